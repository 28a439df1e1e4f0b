"""Stages 3-4: signatures -> band keys -> candidate pairs (records sharing a band key), by sorting."""

from __future__ import annotations

from functools import cache

import numpy as np

from curate.similarity.arrays import GOLDEN, fmix64, segment_starts, sorted_unique


@cache
def band_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows minimizing 0.5 * false positive + 0.5 * false negative area: datasketch's own
    ``MinHashLSH`` optimiser (imported here, on first use, since importing datasketch takes about a second)."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


class LSHIndex:
    """MinHash LSH over many signatures, grouped with sorting instead of dicts.

    ``bands``/``rows`` are datasketch's optimal parameters for ``threshold``
    (``band_params``), or ``params`` when given; like datasketch, only the
    first ``bands * rows`` permutations are used. Each band's rows are mixed
    into one 64-bit key (a random collision only adds a candidate that
    verification rejects). Keys are grouped on their high bits (all but one
    bit per record id), so keys truncated to their high 32 bits work alike:
    ``band_keys`` and ``add_keys`` let workers compute keys and ship only
    those.

    Bucket cap: a bucket of ``m`` members (in record order) pairs member
    ``t`` with the bucket's first ``fanout`` members and with member ``t-1``.
    Buckets up to ``fanout + 1`` members give all their pairs, as datasketch
    would; a bucket of 100k templated records gives about ``(fanout + 1) *
    100k`` pairs instead of 5e9. The first members give every record a link
    to the earliest records it may duplicate (what D002 reports), the
    predecessor link keeps chains of near-identical records connected; since
    every pair is verified, a reported pair always names two records that are
    themselves similar. Across sides (``cross_candidates``) each member is
    paired with the first ``fanout`` members of the other side.
    """

    def __init__(
        self, threshold: float = 0.7, num_perm: int = 128, fanout: int = 4, params: tuple[int, int] | None = None
    ):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if fanout < 1:
            raise ValueError("fanout must be positive")
        self.threshold = threshold
        self.num_perm = num_perm
        self.fanout = fanout
        self.bands, self.rows = params or band_params(threshold, num_perm)
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > num_perm:
            raise ValueError("bands * rows must be between 1 and num_perm")
        self._parts: list[np.ndarray] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """The ``(bands, m)`` uint64 band keys of ``(m, num_perm)`` signatures."""
        sig = np.asarray(signatures)
        if sig.ndim != 2 or sig.shape[1] != self.num_perm:
            raise ValueError(f"signatures must have shape (m, {self.num_perm})")
        rows_major = sig.T[: self.bands * self.rows].astype(np.uint64)
        keys = np.empty((self.bands, sig.shape[0]), dtype=np.uint64)
        for band in range(self.bands):
            h = np.full(sig.shape[0], (int(GOLDEN) * (band + 1)) & (2**64 - 1), dtype=np.uint64)
            for row in rows_major[band * self.rows : (band + 1) * self.rows]:
                h = fmix64(h ^ row)
            keys[band] = h
        return keys

    def add(self, signatures: np.ndarray) -> None:
        """Append records (``(m, num_perm)`` signatures); ids continue from ``len(self)``."""
        self.add_keys(self.band_keys(signatures))

    def add_keys(self, keys: np.ndarray) -> None:
        """Append records by their ``(bands, m)`` band keys (``band_keys``, possibly truncated)."""
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.ndim != 2 or keys.shape[0] != self.bands:
            raise ValueError(f"keys must have shape ({self.bands}, m)")
        self._parts.append(keys)
        self._size += keys.shape[1]

    def _keys(self) -> np.ndarray:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts, axis=1)]
        return self._parts[0] if self._parts else np.empty((self.bands, 0), np.uint64)

    def candidate_pairs(self) -> np.ndarray:
        """Unique candidate pairs ``(i, j)``, ``i < j``, as an int64 ``(p, 2)`` array sorted by row."""
        n = len(self)
        idx_bits = max(1, n.bit_length())
        low = np.uint64((1 << idx_bits) - 1)
        ids = np.arange(n, dtype=np.uint64)
        codes = []
        for band_keys in self._keys():
            # Key in the high bits, record id in the low bits: one plain sort
            # groups buckets with members in record order.
            packed = np.sort(((band_keys >> np.uint64(idx_bits)) << np.uint64(idx_bits)) | ids)
            member = (packed & low).astype(np.int64)
            codes.append(self._code(*bucket_pairs(packed >> np.uint64(idx_bits), member, self.fanout), n))
        return _decode(codes, n)

    def cross_candidates(self, other: LSHIndex) -> np.ndarray:
        """Unique pairs ``(i, j)``, ``i`` in this index and ``j`` in ``other``, sharing a bucket."""
        if (other.bands, other.rows) != (self.bands, self.rows):
            raise ValueError("indexes differ in bands or rows")
        n_left, n_right = len(self), len(other)
        total = n_left + n_right
        idx_bits = max(1, total.bit_length())
        low = np.uint64((1 << idx_bits) - 1)
        # Left ids first, then right ids offset by n_left: within a bucket,
        # left members come first, each side in record order.
        ids = np.arange(total, dtype=np.uint64)
        codes = []
        for left_keys, right_keys in zip(self._keys(), other._keys()):
            keys = np.concatenate([left_keys, right_keys])
            packed = np.sort(((keys >> np.uint64(idx_bits)) << np.uint64(idx_bits)) | ids)
            sorted_ids = (packed & low).astype(np.int64)
            left, right = cross_bucket_pairs(
                packed >> np.uint64(idx_bits), sorted_ids, sorted_ids >= n_left, self.fanout
            )
            codes.append(self._code(left, right - n_left, n_right))
        return _decode(codes, n_right)

    @staticmethod
    def _code(i: np.ndarray, j: np.ndarray, n_cols: int) -> np.ndarray:
        return i * max(n_cols, 1) + j


def bucket_pairs(bucket: np.ndarray, member: np.ndarray, fanout: int) -> tuple[np.ndarray, np.ndarray]:
    """The bucket cap's pairs ``(earlier, later)`` of members sorted by ``(bucket, member)``: each member
    with its bucket's first ``fanout`` members and, past them, with its predecessor (``LSHIndex``)."""
    n = len(member)
    new = np.ones(n, dtype=bool)
    new[1:] = bucket[1:] != bucket[:-1]
    start = segment_starts(new)
    rank = np.arange(n) - start
    pos = np.flatnonzero(rank > 0)
    rank, start = rank[pos], start[pos]
    earlier, later = [], []
    for u in range(min(fanout, int(rank.max(initial=0)))):
        keep = rank > u
        earlier.append(member[start[keep] + u])
        later.append(member[pos[keep]])
    keep = rank > fanout
    earlier.append(member[pos[keep] - 1])
    later.append(member[pos[keep]])
    return np.concatenate(earlier), np.concatenate(later)


def cross_bucket_pairs(
    bucket: np.ndarray, member: np.ndarray, is_right: np.ndarray, fanout: int
) -> tuple[np.ndarray, np.ndarray]:
    """The cross-side pairs ``(left, right)`` of members sorted by bucket, left members first in each, each
    side in order: each member with the first ``fanout`` members of the other side (``LSHIndex``)."""
    total = len(member)
    new = np.ones(total, dtype=bool)
    new[1:] = bucket[1:] != bucket[:-1]
    start = segment_starts(new)
    bucket_id = np.cumsum(new) - 1
    n_buckets = int(bucket_id[-1]) + 1 if total else 0
    n_lefts = np.bincount(bucket_id[~is_right], minlength=n_buckets)[bucket_id]
    n_rights = np.bincount(bucket_id, minlength=n_buckets)[bucket_id] - n_lefts
    pos = np.flatnonzero((n_lefts > 0) & (n_rights > 0))
    sorted_ids = member
    member, start, is_right = sorted_ids[pos], start[pos], is_right[pos]
    n_lefts, n_rights = n_lefts[pos], n_rights[pos]
    lefts, rights = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for u in range(min(fanout, int(np.maximum(n_lefts, n_rights).max(initial=0)))):
        q = np.flatnonzero(~is_right & (n_rights > u))
        lefts.append(member[q])
        rights.append(sorted_ids[start[q] + n_lefts[q] + u])
        q = np.flatnonzero(is_right & (n_lefts > u))
        lefts.append(sorted_ids[start[q] + u])
        rights.append(member[q])
    return np.concatenate(lefts), np.concatenate(rights)


def _decode(codes: list[np.ndarray], n_cols: int) -> np.ndarray:
    if not codes:
        return np.empty((0, 2), dtype=np.int64)
    unique = sorted_unique(np.concatenate(codes))
    width = max(n_cols, 1)
    return np.stack([unique // width, unique % width], axis=1)
