"""The one similarity search: shingle sets -> signatures -> band keys -> candidate pairs -> verified pairs.

The D/C/L rules (``curate.crossrecord``) and ``curate split`` (``curate.splitting``)
run these stages with one ``SearchSettings``; ``find_similar_pairs`` and
``find_cross_pairs`` are the in-memory, all-bands-at-once form for small inputs. Each
stage is a function over columns, not a loop over records:

- ``band_keys(settings, sets)``: per record, ``bands`` uint32 keys (the high
  32 bits of each band's mixed MinHash rows); computed per chunk, in worker
  processes, and the only thing kept of the signatures;
- ``candidates(settings, keys)`` / ``cross_candidates(settings, left, right)``:
  records sharing a key in a band, a group-by on (band, key) with a bounded
  number of pairs per group (``LSHIndex``), ``band_group`` bands at a time;
- ``earliest_verified`` / ``all_verified``: a join of the candidate pairs
  with the shingle sets and the exact Jaccard similarity of each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from curate.similarity.lsh import LSHIndex
from curate.similarity.minhash import MinHasher
from curate.similarity.shingling import ShingleSets, as_sets
from curate.similarity.verify import verify_in_rounds, verify_pairs

# Records per signature block, so only band keys, never all signatures, stay in memory.
_SIGNATURE_BLOCK = 1 << 15
# Probability that the rules' banding finds a pair at exactly the threshold (see ``recall_params``).
LSH_RECALL = 0.985


@cache
def recall_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows that find a pair at exactly ``threshold`` with probability ``LSH_RECALL``, with the
    most rows (fewest false candidates): at 128 permutations 25 x 5 at 0.7, 12 x 10 at 0.9.

    datasketch's balanced optimum (14 x 9 at 0.7) finds a pair at 0.7 with probability 0.44; since every
    candidate is verified, the rules band for recall instead.
    """
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= LSH_RECALL:
            return bands, rows
    return num_perm, 1


@dataclass(frozen=True)
class SearchSettings:
    """Everything a search depends on.

    ``threshold`` is the verified Jaccard similarity; the banding is ``recall_params(threshold, num_perm)``.
    ``fanout`` caps the pairs per bucket (``LSHIndex``); ``band_group`` bands are turned into candidates and
    verified at a time (memory).
    """

    threshold: float = 0.7
    num_perm: int = 128
    fanout: int = 4
    band_group: int = 2
    seed: int = 1

    @property
    def banding(self) -> tuple[int, int]:
        return recall_params(self.threshold, self.num_perm)

    @property
    def bands(self) -> int:
        return self.banding[0]


@cache
def _hasher(num_perm: int, seed: int) -> MinHasher:
    return MinHasher(num_perm, seed)


def band_keys(settings: SearchSettings, sets: ShingleSets) -> np.ndarray:
    """Stage: shingle sets -> uint32 ``(m, bands)`` band keys, signatures computed a block at a time."""
    hasher = _hasher(settings.num_perm, settings.seed)
    index = LSHIndex(settings.threshold, settings.num_perm, settings.fanout, settings.banding)
    out = np.empty((len(sets), settings.bands), dtype=np.uint32)
    for lo in range(0, len(sets), _SIGNATURE_BLOCK):
        hi = min(lo + _SIGNATURE_BLOCK, len(sets))
        out[lo:hi] = (index.band_keys(hasher.signatures(sets.slice(lo, hi))) >> np.uint64(32)).T
    return out


def _index(settings: SearchSettings, keys: np.ndarray, lo: int, hi: int, salt: np.ndarray | None = None) -> LSHIndex:
    part = keys[:, lo:hi] if salt is None else keys[:, lo:hi] ^ salt[:, None]
    index = LSHIndex(settings.threshold, settings.num_perm, settings.fanout, (hi - lo, settings.banding[1]))
    index.add_keys(part.T.astype(np.uint64) << np.uint64(32))
    return index


def candidates(settings: SearchSettings, keys: np.ndarray, salt: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Stage: band keys -> candidate pairs ``(i, j)``, ``i < j`` (rows of ``keys``), ``band_group`` bands at a
    time. Each row's keys are xor-ed with its ``salt``, so rows of different salts (splits, system prompts)
    rarely share a bucket; a templated dataset's capped buckets still give several pairs per record and
    band, so memory stays bounded this way."""
    for lo in range(0, settings.bands, settings.band_group):
        hi = min(lo + settings.band_group, settings.bands)
        yield _index(settings, keys, lo, hi, salt).candidate_pairs()


def cross_candidates(settings: SearchSettings, left: np.ndarray, right: np.ndarray) -> Iterator[np.ndarray]:
    """Stage: the band keys of two sides -> candidate pairs ``(i_left, j_right)``, as ``candidates``."""
    for lo in range(0, settings.bands, settings.band_group):
        hi = min(lo + settings.band_group, settings.bands)
        yield _index(settings, left, lo, hi).cross_candidates(_index(settings, right, lo, hi))


def earliest_verified(settings: SearchSettings, pairs: Iterable[np.ndarray], sets: ShingleSets, owner: int, size: int):
    """Stage: the owners (column ``owner`` of the pairs, record numbers below ``size``) with a verified
    partner, that partner and the similarity.

    Within each batch of candidates an owner's partners are verified in ascending order, ``settings.fanout``
    at a time, until one matches (``verify_in_rounds``); the smallest match is kept and the owner takes no
    further part. So each owner costs a few verifications, and its partner is the earliest match of the
    first batch that has one.
    """
    best = np.full(size, -1, dtype=np.int64)
    sims = np.zeros(size)
    for batch in pairs:
        batch = batch[best[batch[:, owner]] < 0]
        batch, found = verify_in_rounds(sets, sets, batch, settings.threshold, owner, settings.fanout)
        who, partner, found = _earliest(batch[:, owner], batch[:, 1 - owner], found)
        best[who], sims[who] = partner, found
    who = np.flatnonzero(best >= 0)
    return who, best[who], sims[who]


def _earliest(owner: np.ndarray, other: np.ndarray, sims: np.ndarray) -> tuple:
    """Per distinct owner, its smallest ``other`` and that pair's similarity."""
    order = np.lexsort((other, owner))
    owner, other, sims = owner[order], other[order], sims[order]
    new = np.ones(len(owner), dtype=bool)
    new[1:] = owner[1:] != owner[:-1]
    return owner[new], other[new], sims[new]


def all_verified(pairs: Iterable[np.ndarray], left: ShingleSets, right: ShingleSets, threshold: float) -> np.ndarray:
    """Stage: every candidate pair whose exact Jaccard is at least ``threshold`` (duplicates possible)."""
    found = [verify_pairs(left, right, batch, threshold)[0] for batch in pairs]
    return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)


def _full_index(sets: ShingleSets, hasher: MinHasher, threshold: float, fanout: int) -> LSHIndex:
    index = LSHIndex(threshold, hasher.num_perm, fanout)
    for lo in range(0, len(sets), _SIGNATURE_BLOCK):
        index.add(hasher.signatures(sets.slice(lo, min(lo + _SIGNATURE_BLOCK, len(sets)))))
    return index


def _as_tuples(pairs: np.ndarray, sims: np.ndarray) -> list[tuple[int, int, float]]:
    return list(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), sims.tolist()))


def find_similar_pairs(
    hash_arrays: ShingleSets | Sequence[np.ndarray],
    threshold: float = 0.7,
    num_perm: int = 128,
    seed: int = 1,
    *,
    scheme: str = "affine32",
    fanout: int = 4,
    verify_all: bool = False,
) -> list[tuple[int, int, float]]:
    """Verified near-duplicate pairs ``(i, j, jaccard)``, ``i < j``, sorted.

    ``hash_arrays`` are the records' shingle hashes (``ShingleHasher``
    output). Candidates come from ``LSHIndex`` (bucket cap ``fanout``); each
    record ``j`` is then verified against its candidate earlier records in
    ascending order, ``fanout`` at a time, until a round yields a match. So
    ``j`` gets up to ``fanout`` links to its earliest similar candidates,
    which is what D002 reports and enough to keep a templated cluster
    connected, at a cost linear in the number of records.
    ``verify_all=True`` verifies every candidate instead (every pair LSH
    finds, for the densest clustering; slower on templated data). Every
    returned pair has exact Jaccard ``>= threshold``.
    """
    sets = as_sets(hash_arrays)
    index = _full_index(sets, MinHasher(num_perm, seed, scheme), threshold, fanout)
    per_round = None if verify_all else fanout
    return _as_tuples(*verify_in_rounds(sets, sets, index.candidate_pairs(), threshold, 1, per_round))


def find_cross_pairs(
    left_hashes: ShingleSets | Sequence[np.ndarray],
    right_hashes: ShingleSets | Sequence[np.ndarray],
    threshold: float = 0.7,
    num_perm: int = 128,
    seed: int = 1,
    *,
    scheme: str = "affine32",
    fanout: int = 4,
    verify_all: bool = False,
) -> list[tuple[int, int, float]]:
    """Verified pairs ``(i_left, j_right, jaccard)`` across two record sets, sorted.

    Only pairs across sides are considered (e.g. train on the left vs eval on
    the right). Rounds as in ``find_similar_pairs``, owned by the left
    record: each left record gets up to ``fanout`` verified right partners,
    the lowest-numbered candidates that match.
    """
    left, right = as_sets(left_hashes), as_sets(right_hashes)
    hasher = MinHasher(num_perm, seed, scheme)
    found = _full_index(left, hasher, threshold, fanout).cross_candidates(_full_index(right, hasher, threshold, fanout))
    per_round = None if verify_all else fanout
    return _as_tuples(*verify_in_rounds(left, right, found, threshold, 0, per_round))


def connected_components(n: int, pairs: Iterable | np.ndarray) -> np.ndarray:
    """Component label of each of ``n`` records linked by ``pairs``.

    ``pairs`` holds ``(i, j)`` or ``(i, j, sim)`` rows. Labels are 0..c-1,
    numbered in order of each component's first record. Vectorized union-find:
    hook every edge's larger root under its smaller one, then compress paths
    fully, until no edge joins two roots.
    """
    edges = np.asarray(list(pairs) if not isinstance(pairs, np.ndarray) else pairs)
    parent = np.arange(n, dtype=np.int64)
    if edges.size:
        u = edges[:, 0].astype(np.int64)
        v = edges[:, 1].astype(np.int64)
        while True:
            ru, rv = parent[u], parent[v]
            differ = ru != rv
            if not differ.any():
                break
            np.minimum.at(parent, np.maximum(ru, rv)[differ], np.minimum(ru, rv)[differ])
            while True:
                grand = parent[parent]
                if np.array_equal(grand, parent):
                    break
                parent = grand
    _, labels = np.unique(parent, return_inverse=True)
    return labels.astype(np.int64)
