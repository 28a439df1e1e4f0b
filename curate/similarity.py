"""Near-duplicate search: shingles, MinHash, LSH banding and exact verification.

Pipeline (DESIGN.md section 3, "Near-duplicate"):

1. ``ShingleHasher`` turns each normalized text into the sorted, unique
   uint32 hashes of its word 3-gram shingles; many records are kept as one
   CSR ``ShingleSets`` (about 4 bytes per shingle, no texts).
2. ``MinHasher`` computes datasketch-compatible MinHash signatures for many
   records at once with numpy.
3. ``LSHIndex`` hashes each band of a signature to one key and groups equal
   keys by sorting; records sharing a key in any band become candidates,
   with a bounded number of pairs per bucket (see ``LSHIndex``).
4. ``verify_pairs`` computes the exact Jaccard similarity of the candidate
   pairs' shingle-hash sets, so a reported pair really is above threshold.
   "Exact" is up to 32-bit hash collisions between distinct shingles, which
   are rare enough (about 1e-5 per pair of 150-shingle records) to ignore.

``find_similar_pairs`` and ``find_cross_pairs`` run the whole pipeline;
``connected_components`` clusters the verified pairs for a leak-proof split.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

__all__ = [
    "LSHIndex",
    "MinHasher",
    "ShingleHasher",
    "ShingleSets",
    "band_params",
    "connected_components",
    "find_cross_pairs",
    "find_similar_pairs",
    "hash_shingles",
    "jaccard",
    "pair_jaccard",
    "shingles",
    "verify_in_rounds",
    "verify_pairs",
]

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_U32_MAX = np.uint32((1 << 32) - 1)
_LOW32 = np.uint64((1 << 32) - 1)
_S32 = np.uint64(32)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

# Hash values per MinHash chunk: the (num_perm, chunk) temporary stays in
# cache-friendly range (4 MiB at 128 permutations), measured fastest.
_CHUNK_VALUES = 8192
# Elements gathered per verification batch (two uint64 arrays of this size).
_VERIFY_BATCH = 1 << 22
# Records per signature block in find_similar_pairs / find_cross_pairs, so
# only band keys, never all signatures, stay in memory.
_SIGNATURE_BLOCK = 1 << 15
# Simpson intervals for band_params; already 128 match datasketch's scipy
# quad choice for every threshold 0.05, 0.10, ..., 0.95 at 16..256 permutations.
_SIMPSON_STEPS = 256
# UTF-8 bytes per fast-hashing batch (temporaries are ~30 bytes per byte).
_FAST_BATCH_BYTES = 1 << 20
_POLY_BASE = 0x100000001B3
# Whitespace that str.split() knows beyond ASCII; the fast hasher splits
# UTF-8 bytes on ASCII whitespace only (multi-byte sequences never contain
# ASCII bytes), so texts holding these are re-split in Python first.
_UNICODE_SPACE = re.compile(r"[^\S\t\n\x0b\x0c\r\x1c-\x1f ]")


# --------------------------------------------------------------------------
# Shingles and shingle hashes


def _utf8(text: str) -> bytes:
    # surrogatepass: lone surrogates from JSON escapes must not crash hashing;
    # valid text encodes exactly as str.encode() (datasketch's usual input).
    return text.encode("utf-8", "surrogatepass")


def shingles(normalized_text: str, k: int = 3) -> set[str]:
    """Word ``k``-gram shingles of an already normalized text.

    Words are split on whitespace and each shingle is its words joined by one
    space. A text with fewer than ``k`` words gives one shingle, the whole
    text; so the empty text gives ``{""}`` and two empty texts have Jaccard
    similarity 1.0.
    """
    words = normalized_text.split()
    if len(words) < k:
        return {" ".join(words)}
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (numpy 2's hash-based ``np.unique`` is far slower here)."""
    x = np.sort(x)
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = x[1:] != x[:-1]
    return x[keep]


def hash_shingles(shingle_set: Iterable[str]) -> np.ndarray:
    """Sorted unique uint32 hashes of shingles, datasketch's ``sha1_hash32``.

    The value of a shingle ``s`` is the first 4 bytes of ``sha1(s.encode())``
    read little-endian, exactly what ``MinHash.update(s.encode())`` feeds to
    its permutations by default.
    """
    sha1 = hashlib.sha1
    digests = b"".join([sha1(_utf8(s)).digest()[:4] for s in shingle_set])
    return _sorted_unique(np.frombuffer(digests, dtype="<u4").astype(np.uint32))


class ShingleSets:
    """Shingle-hash sets of many records in CSR form.

    ``values`` (uint32) holds every record's sorted unique hashes back to back;
    record ``i`` is ``values[offsets[i]:offsets[i + 1]]``. The constructor
    trusts that order (Jaccard counting relies on it); ``from_arrays`` and
    ``ShingleHasher`` establish it.
    """

    __slots__ = ("offsets", "values")

    def __init__(self, values: np.ndarray, offsets: np.ndarray):
        self.values = np.ascontiguousarray(values, dtype=np.uint32)
        self.offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-d array starting at 0")
        if self.offsets[-1] != len(self.values) or np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must be non-decreasing and end at len(values)")

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> ShingleSets:
        """Pack per-record hash arrays, sorting and deduplicating each record."""
        sizes = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        values = np.concatenate([np.asarray(a, dtype=np.uint64) for a in arrays] or [np.empty(0, np.uint64)])
        if values.size and int(values.max()) > int(_MAX_HASH):
            raise ValueError("hash values must fit in 32 bits")
        rows = np.repeat(np.arange(len(arrays), dtype=np.uint64), sizes)
        keys = _sorted_unique((rows << _S32) | values)
        counts = np.bincount((keys >> _S32).astype(np.int64), minlength=len(arrays))
        np.cumsum(counts, out=offsets[1:])
        return cls((keys & _LOW32).astype(np.uint32), offsets)

    @classmethod
    def concat(cls, parts: Sequence[ShingleSets]) -> ShingleSets:
        """Records of all ``parts``, in order."""
        if not parts:
            return cls(np.empty(0, np.uint32), np.zeros(1, np.int64))
        bases = np.cumsum([0] + [len(p.values) for p in parts[:-1]])
        offsets = np.concatenate([[0]] + [p.offsets[1:] + base for p, base in zip(parts, bases)])
        return cls(np.concatenate([p.values for p in parts]), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def sizes(self) -> np.ndarray:
        """Number of distinct shingle hashes per record (int64)."""
        return np.diff(self.offsets)

    def slice(self, start: int, stop: int) -> ShingleSets:
        """Records ``start:stop`` as a new ``ShingleSets`` sharing ``values``."""
        lo = self.offsets[start]
        return ShingleSets(self.values[lo : self.offsets[stop]], self.offsets[start : stop + 1] - lo)


def without_common(sets: ShingleSets, share: float, min_records: int, min_rest: int = 5,
                   sample: int = 20_000) -> ShingleSets:
    """The sets less their boilerplate: hashes found in at least ``share`` of the records (and in at least
    ``min_records``), such as a tool description or an instruction template many records repeat.

    Document frequencies are counted on up to ``sample`` evenly spaced records. A record with fewer than
    ``min_rest`` hashes besides boilerplate keeps its whole set: a template that differs in one slot word
    is still compared whole, and two copies of it are near-duplicates.
    """
    n = len(sets)
    if n < min_records or not len(sets.values):
        return sets
    rows = np.linspace(0, n - 1, min(n, sample)).astype(np.int64)
    starts, stops = sets.offsets[rows], sets.offsets[rows + 1]
    picked = np.concatenate([sets.values[a:b] for a, b in zip(starts.tolist(), stops.tolist())])
    values, counts = np.unique(picked, return_counts=True)
    common = values[counts >= max(min_records * len(rows) / n, share * len(rows))]
    if not len(common):
        return sets
    boiler = np.isin(sets.values, common)
    owner = np.repeat(np.arange(n), sets.sizes())
    kept = np.bincount(owner[~boiler], minlength=n)
    keep = ~boiler | (kept[owner] < min_rest)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner[keep], minlength=n), out=offsets[1:])
    return ShingleSets(sets.values[keep], offsets)


def _as_sets(sets: ShingleSets | Sequence[np.ndarray]) -> ShingleSets:
    return sets if isinstance(sets, ShingleSets) else ShingleSets.from_arrays(sets)


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finalizer, as datasketch's affine32 pre-mix."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


class ShingleHasher:
    """Normalized texts -> sorted unique uint32 word ``k``-gram shingle hashes.

    ``method="sha1"`` (default) hashes each shingle string with datasketch's
    ``sha1_hash32``, so signatures equal datasketch's ``MinHash.update`` over
    ``s.encode()``; it costs 1-2 us per shingle in Python.

    ``method="fast"`` hashes the UTF-8 bytes of a whole batch with numpy: each
    word gets a 64-bit polynomial hash of its bytes, and each shingle a mix of
    its ``k`` word hashes. Words and shingles are exactly those of
    ``shingles()`` (texts holding non-ASCII whitespace are re-split in
    Python), so the sets, and their Jaccard similarities, are the same up to
    32-bit collisions; the values differ from sha1's, so never compare the
    two methods' outputs with each other. It is 10-20x faster than sha1.
    """

    def __init__(self, k: int = 3, method: str = "sha1"):
        if k < 1:
            raise ValueError("k must be positive")
        if method not in ("sha1", "fast"):
            raise ValueError("method must be 'sha1' or 'fast'")
        self.k = k
        self.method = method

    def __call__(self, normalized_text: str) -> np.ndarray:
        """Hashes of one text."""
        if self.method == "sha1":
            return hash_shingles(shingles(normalized_text, self.k))
        return self.hash_many([normalized_text]).values

    def hash_many(self, texts: Sequence[str]) -> ShingleSets:
        """Hashes of many texts as ``ShingleSets`` (batch them for speed)."""
        if self.method == "sha1":
            return ShingleSets.from_arrays([self(t) for t in texts])
        parts = [self._hash_batch(batch) for batch in _batches(texts)]
        return ShingleSets.concat(parts)

    def ngram_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every word ``k``-gram's 64-bit hash in text order, as ``(values, offsets)`` (CSR).

        Record ``i``'s n-gram starting at its word ``p`` is ``values[offsets[i] + p]``;
        a text under ``k`` words has none. The top 32 bits are ``hash_many``'s
        shingle hash; exact membership tests against large sets need all 64.
        """
        if self.method != "fast":
            raise ValueError("ngram_hashes needs method='fast'")
        values, sizes = [], []
        for batch in _batches(texts):
            word_rec, words = _word_hashes(batch)
            grams = max(len(words) - self.k + 1, 0)
            starts = np.flatnonzero(word_rec[:grams] == word_rec[self.k - 1 : self.k - 1 + grams])
            values.append(_chain(words, starts, self.k))
            sizes.append(np.bincount(word_rec[starts], minlength=len(batch)))
        offsets = np.zeros(sum(len(c) for c in sizes) + 1, dtype=np.int64)
        np.cumsum(np.concatenate(sizes), out=offsets[1:])
        return np.concatenate(values), offsets

    def _hash_batch(self, encoded: list[bytes]) -> ShingleSets:
        k, n = self.k, len(encoded)
        word_rec, words = _word_hashes(encoded)
        # k-grams start at word p when word p+k-1 is in the same record.
        counts = np.bincount(word_rec, minlength=n)
        first_word = np.zeros(n, dtype=np.int64)
        np.cumsum(counts[:-1], out=first_word[1:])
        grams = max(len(words) - k + 1, 0)
        starts = np.flatnonzero(word_rec[:grams] == word_rec[k - 1 : k - 1 + grams])
        rows = [word_rec[starts]]
        hashes = [_chain(words, starts, k)]
        # A record under k words has one shingle, the chain of all its words.
        for length in range(k):
            short = np.flatnonzero(counts == length)
            rows.append(short)
            hashes.append(_chain(words, first_word[short], length))
        keys = (np.concatenate(rows).astype(np.uint64) << _S32) | (np.concatenate(hashes) >> _S32)
        keys = _sorted_unique(keys)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount((keys >> _S32).astype(np.int64), minlength=n), out=offsets[1:])
        return ShingleSets((keys & _LOW32).astype(np.uint32), offsets)


def _batches(texts: Iterable[str]) -> Iterable[list[bytes]]:
    """UTF-8 texts in batches of about ``_FAST_BATCH_BYTES`` (at least one batch, maybe empty)."""
    batch, size, sent = [], 0, False
    for text in texts:
        if not text.isascii() and _UNICODE_SPACE.search(text):
            text = " ".join(text.split())
        data = _utf8(text)
        batch.append(data)
        size += len(data) + 1
        if size >= _FAST_BATCH_BYTES:
            yield batch
            batch, size, sent = [], 0, True
    if batch or not sent:
        yield batch


def _word_hashes(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(record of each word, 64-bit hash of each word) for a batch of UTF-8 texts."""
    n = len(encoded)
    data = np.frombuffer(b"\n".join(encoded), dtype=np.uint8)
    rec_starts = np.zeros(n, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n)[:-1] + 1, out=rec_starts[1:])
    # Words: maximal runs of bytes outside 9..13 and 28..32, the ASCII
    # whitespace of str.split() (uint8 arithmetic wraps below 9 and 28).
    inside = np.zeros(len(data) + 2, dtype=np.int8)
    inside[1:-1] = ~(((data - np.uint8(9)) < 5) | ((data - np.uint8(28)) < 5))
    edges = np.flatnonzero(inside[1:] != inside[:-1])
    w_start, w_end = edges[0::2], edges[1::2]
    word_rec = np.searchsorted(rec_starts, w_start, side="right") - 1
    # Word hash: sum of byte_t * B**t over the word, from prefix sums of
    # byte_q * B**q rescaled by B**-start (B is odd, so invertible).
    powers, inverses = _powers(len(data))
    prefix = np.zeros(len(data) + 1, dtype=np.uint64)
    np.multiply(data, powers, out=prefix[1:], dtype=np.uint64)
    np.cumsum(prefix, out=prefix)
    words = (prefix[w_end] - prefix[w_start]) * inverses[w_start]
    return word_rec, _fmix64(words ^ ((w_end - w_start).astype(np.uint64) * _GOLDEN))


_POWER_TABLES: list[np.ndarray] = []


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``B**q`` and ``B**-q`` modulo 2**64 for ``q < size`` (cached, grown by doubling)."""
    if not _POWER_TABLES or len(_POWER_TABLES[0]) < size:
        length = max(size, 2 * len(_POWER_TABLES[0]) if _POWER_TABLES else _FAST_BATCH_BYTES)
        tables = []
        for base in (_POLY_BASE, pow(_POLY_BASE, -1, 1 << 64)):
            table = np.full(length, base, dtype=np.uint64)
            table[0] = 1
            tables.append(np.multiply.accumulate(table))
        _POWER_TABLES[:] = tables
    return _POWER_TABLES[0][:size], _POWER_TABLES[1][:size]


def _chain(words: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """64-bit hash of the ``length`` consecutive words from each start."""
    h = np.full(len(starts), length, dtype=np.uint64)
    for t in range(length):
        h = (h ^ words[starts + t]) * _GOLDEN
        h ^= h >> np.uint64(29)
    return _fmix64(h)


# --------------------------------------------------------------------------
# MinHash


class MinHasher:
    """Vectorized MinHash, value-for-value equal to ``datasketch.MinHash``.

    ``scheme="affine32"`` is datasketch 2.x's default (``MinHash(num_perm,
    seed)``): the input hash is pre-mixed with the 32-bit MurmurHash3
    finalizer, then ``a * h + b`` modulo 2**32. ``scheme="legacy"`` is the
    pre-2.0 default: ``((a * h + b) mod 2**64) mod (2**61 - 1)``, truncated to
    32 bits; its 64-bit modulo makes it about 10x slower. Permutation
    parameters come from ``np.random.RandomState(seed)``, drawn exactly as
    datasketch draws them.

    Signatures are uint32 for both schemes (legacy values fit in 32 bits;
    datasketch stores them as uint64). A record with no hashes gets all
    ``2**32 - 1``, datasketch's empty MinHash.
    """

    def __init__(self, num_perm: int = 128, seed: int = 1, scheme: str = "affine32", workers: int = 1):
        if num_perm < 1:
            raise ValueError("num_perm must be positive")
        if scheme not in ("affine32", "legacy"):
            raise ValueError("scheme must be 'affine32' or 'legacy'")
        self.num_perm = num_perm
        self.seed = seed
        self.scheme = scheme
        self.workers = max(1, workers)
        gen = np.random.RandomState(seed)
        if scheme == "legacy":
            ab = np.array(
                [
                    (
                        gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
                        gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64),
                    )
                    for _ in range(num_perm)
                ],
                dtype=np.uint64,
            ).T
            self._a, self._b = ab[0].copy(), ab[1].copy()
        else:
            self._a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
            self._b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)

    @property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``(a, b)`` parameter arrays, as datasketch's ``permutations``."""
        return self._a, self._b

    def signatures(self, sets: ShingleSets | Sequence[np.ndarray]) -> np.ndarray:
        """MinHash signatures, shape ``(n, num_perm)``, dtype uint32.

        Input arrays hold 32-bit hash values (duplicates are harmless). The
        work runs in chunks of at most ``_CHUNK_VALUES`` hash values, so the
        temporary stays a few MiB; ``workers`` threads share the records
        (numpy releases the GIL in its loops; the gain is untested on a
        quiet multi-core machine, hence the default of 1).
        """
        if isinstance(sets, ShingleSets):
            values, offsets = sets.values, sets.offsets
        else:
            arrays = [np.asarray(a) for a in sets]
            offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
            np.cumsum([len(a) for a in arrays], out=offsets[1:])
            values = np.concatenate(arrays).astype(np.uint32) if arrays else np.empty(0, np.uint32)
        n = len(offsets) - 1
        out = np.full((self.num_perm, n), _U32_MAX, dtype=np.uint32)
        # Split records (not values) between workers so no record is shared.
        cuts = np.searchsorted(offsets, np.linspace(0, offsets[-1], self.workers + 1)[1:-1])
        bounds = [0, *sorted(set(int(c) for c in cuts)), n]
        blocks = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
        if len(blocks) > 1:
            with ThreadPoolExecutor(len(blocks)) as pool:
                list(pool.map(lambda blk: self._fill(values, offsets, blk[0], blk[1], out), blocks))
        else:
            for lo, hi in blocks:
                self._fill(values, offsets, lo, hi, out)
        return out.T

    def _fill(self, values: np.ndarray, offsets: np.ndarray, r_lo: int, r_hi: int, out: np.ndarray) -> None:
        """Min-reduce records ``r_lo:r_hi`` into columns of ``out`` (num_perm, n)."""
        legacy = self.scheme == "legacy"
        dtype = np.uint64 if legacy else np.uint32
        a = self._a[:, None].astype(dtype)
        b = self._b[:, None].astype(dtype)
        buf = np.empty((self.num_perm, _CHUNK_VALUES), dtype=dtype)
        v_lo, v_hi = int(offsets[r_lo]), int(offsets[r_hi])
        for lo in range(v_lo, v_hi, _CHUNK_VALUES):
            hi = min(lo + _CHUNK_VALUES, v_hi)
            # Non-empty records overlapping [lo, hi), and their local starts.
            first = int(np.searchsorted(offsets, lo, side="right")) - 1
            last = int(np.searchsorted(offsets, hi, side="left"))
            rec = np.arange(first, last)
            rec = rec[offsets[rec + 1] > offsets[rec]]
            starts = np.maximum(offsets[rec], lo) - lo
            h = values[lo:hi]
            work = buf[:, : hi - lo]
            if legacy:
                np.multiply(a, h.astype(np.uint64), out=work)
                np.add(work, b, out=work)
                np.remainder(work, _MERSENNE_PRIME, out=work)
                np.bitwise_and(work, _MAX_HASH, out=work)
            else:
                np.multiply(a, _fmix32(h), out=work)
                np.add(work, b, out=work)
            mins = np.minimum.reduceat(work, starts, axis=1)
            out[:, rec] = np.minimum(out[:, rec], mins)


# --------------------------------------------------------------------------
# LSH


@lru_cache(maxsize=None)
def band_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows minimizing 0.5 * false positive + 0.5 * false negative area.

    Same search as datasketch's ``_optimal_param`` (every ``b * r <=
    num_perm``, first minimum in ``b``-then-``r`` order), integrating with
    composite Simpson in numpy instead of importing scipy.
    """
    b, r = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]).T
    b, r = b[:, None].astype(np.float64), r[:, None].astype(np.float64)

    def integral(lo: float, hi: float, f) -> np.ndarray:
        x = np.linspace(lo, hi, _SIMPSON_STEPS + 1)
        weights = np.ones(_SIMPSON_STEPS + 1)
        weights[1:-1:2], weights[2:-1:2] = 4, 2
        return f(x[None, :]) @ weights * (hi - lo) / (3 * _SIMPSON_STEPS)

    false_pos = integral(0.0, threshold, lambda s: 1 - (1 - s**r) ** b)
    false_neg = integral(threshold, 1.0, lambda s: (1 - s**r) ** b)
    best = int(np.argmin(0.5 * false_pos + 0.5 * false_neg))
    return int(b[best, 0]), int(r[best, 0])


def _segment_starts(flag: np.ndarray) -> np.ndarray:
    """For each position, the index of the most recent True in ``flag``."""
    idx = np.where(flag, np.arange(len(flag)), 0)
    return np.maximum.accumulate(idx)


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
            h = np.full(sig.shape[0], (int(_GOLDEN) * (band + 1)) & (2**64 - 1), dtype=np.uint64)
            for row in rows_major[band * self.rows : (band + 1) * self.rows]:
                h = _fmix64(h ^ row)
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
            bucket = packed >> np.uint64(idx_bits)
            new = np.ones(n, dtype=bool)
            new[1:] = bucket[1:] != bucket[:-1]
            start = _segment_starts(new)
            rank = np.arange(n) - start
            pos = np.flatnonzero(rank > 0)
            rank, start = rank[pos], start[pos]
            for u in range(min(self.fanout, int(rank.max(initial=0)))):
                keep = rank > u
                codes.append(self._code(member[start[keep] + u], member[pos[keep]], n))
            keep = rank > self.fanout
            codes.append(self._code(member[pos[keep] - 1], member[pos[keep]], n))
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
            bucket = packed >> np.uint64(idx_bits)
            new = np.ones(total, dtype=bool)
            new[1:] = bucket[1:] != bucket[:-1]
            start = _segment_starts(new)
            is_right = sorted_ids >= n_left
            bucket_id = np.cumsum(new) - 1
            n_buckets = int(bucket_id[-1]) + 1 if total else 0
            n_lefts = np.bincount(bucket_id[~is_right], minlength=n_buckets)[bucket_id]
            n_rights = np.bincount(bucket_id, minlength=n_buckets)[bucket_id] - n_lefts
            pos = np.flatnonzero((n_lefts > 0) & (n_rights > 0))
            member, start, is_right = sorted_ids[pos], start[pos], is_right[pos]
            n_lefts, n_rights = n_lefts[pos], n_rights[pos]
            for u in range(min(self.fanout, int(np.maximum(n_lefts, n_rights).max(initial=0)))):
                q = np.flatnonzero(~is_right & (n_rights > u))
                right_member = sorted_ids[start[q] + n_lefts[q] + u] - n_left
                codes.append(self._code(member[q], right_member, n_right))
                q = np.flatnonzero(is_right & (n_lefts > u))
                codes.append(self._code(sorted_ids[start[q] + u], member[q] - n_left, n_right))
        return _decode(codes, n_right)

    @staticmethod
    def _code(i: np.ndarray, j: np.ndarray, n_cols: int) -> np.ndarray:
        return i * max(n_cols, 1) + j


def _decode(codes: list[np.ndarray], n_cols: int) -> np.ndarray:
    if not codes:
        return np.empty((0, 2), dtype=np.int64)
    unique = _sorted_unique(np.concatenate(codes))
    width = max(n_cols, 1)
    return np.stack([unique // width, unique % width], axis=1)


# --------------------------------------------------------------------------
# Verification


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
    bounds = np.unique(np.concatenate([[0], marks, [len(pairs)]]).astype(np.int64))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        batch = pairs[lo:hi]
        tag = np.arange(len(batch), dtype=np.uint64) << _S32
        a_keys, a_len = _tagged(left, batch[:, 0], tag)
        b_keys, b_len = _tagged(right, batch[:, 1], tag)
        # Two sorted runs: the stable sort (timsort) merges them in linear time.
        keys = np.concatenate([a_keys, b_keys])
        keys.sort(kind="stable")
        dup = keys[1:][keys[1:] == keys[:-1]]
        inter = np.bincount((dup >> _S32).astype(np.int64), minlength=len(batch))
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


# --------------------------------------------------------------------------
# End-to-end search and clustering


def _index(sets: ShingleSets, hasher: MinHasher, threshold: float, fanout: int) -> LSHIndex:
    index = LSHIndex(threshold, hasher.num_perm, fanout)
    for lo in range(0, len(sets), _SIGNATURE_BLOCK):
        index.add(hasher.signatures(sets.slice(lo, min(lo + _SIGNATURE_BLOCK, len(sets)))))
    return index


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
        round_of = (np.arange(len(group)) - _segment_starts(new)) // per_round
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
    sets = _as_sets(hash_arrays)
    index = _index(sets, MinHasher(num_perm, seed, scheme), threshold, fanout)
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
    left, right = _as_sets(left_hashes), _as_sets(right_hashes)
    hasher = MinHasher(num_perm, seed, scheme)
    candidates = _index(left, hasher, threshold, fanout).cross_candidates(_index(right, hasher, threshold, fanout))
    per_round = None if verify_all else fanout
    return _as_tuples(*verify_in_rounds(left, right, candidates, threshold, 0, per_round))


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
