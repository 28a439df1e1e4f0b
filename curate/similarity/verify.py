"""Stage 5: candidate pairs -> verified pairs, by the exact Jaccard similarity of their shingle-hash sets."""

from __future__ import annotations

import numpy as np

from curate.similarity.arrays import S32, segment_starts, sorted_unique
from curate.similarity.shingling import ShingleSets

# Elements gathered per verification batch (two uint64 arrays of this size).
_VERIFY_BATCH = 1 << 22


def jaccard(a: set, b: set) -> float:
    """Jaccard similarity of two sets; two empty sets are identical (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _tagged(sets: ShingleSets, rows: np.ndarray, tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``tag | value`` for every hash value of ``rows`` (uint64), and the rows' sizes."""
    starts = sets.offsets[rows]
    lengths = sets.offsets[rows + 1] - starts
    before = np.cumsum(lengths) - lengths
    index = np.repeat(starts - before, lengths) + np.arange(int(lengths.sum()))
    keys = np.repeat(tags, lengths)
    np.bitwise_or(keys, sets.values[index], out=keys)
    return keys, lengths


def pair_jaccard(left: ShingleSets, right: ShingleSets, pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of ``left[i]`` and ``right[j]`` for each pair ``(i, j)`` (float64).

    Both sets of a pair are tagged with the pair number and merged in one
    sort; equal neighbours are the intersection. Runs in batches so memory
    stays bounded whatever the number of pairs.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    sims = np.empty(len(pairs), dtype=np.float64)
    work = np.cumsum(left.sizes()[pairs[:, 0]] + right.sizes()[pairs[:, 1]])
    marks = np.searchsorted(work, np.arange(_VERIFY_BATCH, work[-1] if len(work) else 0, _VERIFY_BATCH))
    bounds = sorted_unique(np.concatenate([[0], marks, [len(pairs)]]).astype(np.int64))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        batch = pairs[lo:hi]
        tag = np.arange(len(batch), dtype=np.uint64) << S32
        a_keys, a_len = _tagged(left, batch[:, 0], tag)
        b_keys, b_len = _tagged(right, batch[:, 1], tag)
        # Two sorted runs: the stable sort (timsort) merges them in linear time.
        keys = np.concatenate([a_keys, b_keys])
        keys.sort(kind="stable")
        dup = keys[1:][keys[1:] == keys[:-1]]
        inter = np.bincount((dup >> S32).astype(np.int64), minlength=len(batch))
        union = a_len + b_len - inter
        sims[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return sims


def verify_pairs(
    left: ShingleSets, right: ShingleSets, pairs: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose exact Jaccard is ``>= threshold``, and those similarities.

    Pairs whose set sizes alone rule the threshold out (``min/max <
    threshold``) are dropped before any merging.
    """
    pairs = _size_filter(left, right, np.asarray(pairs, dtype=np.int64).reshape(-1, 2), threshold)
    sims = pair_jaccard(left, right, pairs)
    keep = sims >= threshold
    return pairs[keep], sims[keep]


def _size_filter(left: ShingleSets, right: ShingleSets, pairs: np.ndarray, threshold: float) -> np.ndarray:
    """Pairs whose set sizes allow Jaccard ``>= threshold`` (Jaccard <= min/max)."""
    a = left.sizes()[pairs[:, 0]]
    b = right.sizes()[pairs[:, 1]]
    big = np.maximum(a, b)
    # The same float division as the Jaccard itself keeps the test exact.
    return pairs[(big == 0) | (np.minimum(a, b) / np.maximum(big, 1) >= threshold)]


def verify_in_rounds(
    left: ShingleSets,
    right: ShingleSets,
    candidates: np.ndarray,
    threshold: float,
    owner: int,
    per_round: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Verify candidates, ``per_round`` at a time per owner record, until one verifies.

    The owner is column ``owner`` of each pair; its partners are tried in
    ascending order. ``per_round=None`` verifies every candidate. Returns the
    verified pairs sorted, and their similarities (``find_similar_pairs`` and
    ``find_cross_pairs`` use it on ``LSHIndex`` candidates).
    """
    if per_round is None:
        pairs, sims = verify_pairs(left, right, candidates, threshold)
    else:
        candidates = _size_filter(left, right, candidates, threshold)
        other = 1 - owner
        width = int(candidates[:, other].max()) + 1 if len(candidates) else 1
        key = np.sort(candidates[:, owner] * width + candidates[:, other])
        group = key // width
        candidates = np.empty_like(candidates)
        candidates[:, owner], candidates[:, other] = group, key % width
        new = np.ones(len(group), dtype=bool)
        new[1:] = group[1:] != group[:-1]
        round_of = (np.arange(len(group)) - segment_starts(new)) // per_round
        found = np.zeros(int(group.max()) + 1 if len(group) else 0, dtype=bool)
        kept_pairs, kept_sims = [], []
        current = 0
        while len(candidates):
            now = round_of == current
            pairs, sims = verify_pairs(left, right, candidates[now], threshold)
            kept_pairs.append(pairs)
            kept_sims.append(sims)
            found[pairs[:, owner]] = True
            later = (round_of > current) & ~found[candidates[:, owner]]
            candidates, round_of = candidates[later], round_of[later]
            current += 1
        pairs = np.concatenate(kept_pairs) if kept_pairs else np.empty((0, 2), dtype=np.int64)
        sims = np.concatenate(kept_sims) if kept_sims else np.empty(0)
    order = np.argsort(pairs[:, 0] * (int(pairs[:, 1].max()) + 1 if len(pairs) else 1) + pairs[:, 1])
    return pairs[order], sims[order]
