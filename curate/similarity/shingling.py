"""Stage 1: normalized texts -> word k-gram shingles -> sorted unique uint32 shingle hashes (CSR ``ShingleSets``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from curate.similarity.arrays import GOLDEN, LOW32, S32, fmix64, sorted_unique

_MAX_HASH = np.uint64((1 << 32) - 1)
# UTF-8 bytes per fast-hashing batch: temporaries are ~30 bytes per byte, so 64 KiB keeps them in the
# CPU caches (measured 1.4x faster per byte than 1 MiB batches; 32 KiB pays more per-call overhead).
_FAST_BATCH_BYTES = 1 << 16
_POLY_BASE = 0x100000001B3
# Hash values per block of the boilerplate filter (``without_common``).
_FILTER_BLOCK = 1 << 20
# Whitespace that str.split() knows beyond ASCII; the fast hasher splits
# UTF-8 bytes on ASCII whitespace only (multi-byte sequences never contain
# ASCII bytes), so texts holding these are re-split in Python first.
_UNICODE_SPACE = re.compile(r"[^\S\t\n\x0b\x0c\r\x1c-\x1f ]")


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


def hash_shingles(shingle_set: Iterable[str]) -> np.ndarray:
    """Sorted unique uint32 hashes of shingles with datasketch's own ``sha1_hash32``: exactly what
    ``MinHash.update(s.encode())`` feeds to its permutations by default (the compatible, slow method)."""
    from datasketch.hashfunc import sha1_hash32

    return sorted_unique(np.fromiter((sha1_hash32(_utf8(s)) for s in shingle_set), dtype=np.uint32))


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
        keys = sorted_unique((rows << S32) | values)
        counts = np.bincount((keys >> S32).astype(np.int64), minlength=len(arrays))
        np.cumsum(counts, out=offsets[1:])
        return cls((keys & LOW32).astype(np.uint32), offsets)

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


MIN_REST = 5  # a record with fewer hashes besides boilerplate is compared whole
SAMPLE = 20_000  # records the document frequencies are counted on


def without_common(
    sets: ShingleSets,
    share: float,
    min_records: int,
    min_rest: int = MIN_REST,
    sample: int = SAMPLE,
    *,
    in_place: bool = False,
) -> ShingleSets:
    """The sets less their boilerplate: hashes found in at least ``share`` of the records (and in at least
    ``min_records``), such as a tool description or an instruction template many records repeat.

    Document frequencies are counted on up to ``sample`` evenly spaced records. A record with fewer than
    ``min_rest`` hashes besides boilerplate keeps its whole set: a template that differs in one slot word
    is still compared whole, and two copies of it are near-duplicates. Records are filtered a block at a
    time (temporaries stay a few MB); ``in_place`` writes the result over ``sets.values`` (which must be
    writable, and is then no longer ``sets``'s content) instead of into a new array.
    """
    n = len(sets)
    if n < min_records or not len(sets.values):
        return sets
    rows = sample_rows(n, sample)
    starts, stops = sets.offsets[rows], sets.offsets[rows + 1]
    picked = np.concatenate([sets.values[a:b] for a, b in zip(starts.tolist(), stops.tolist())])
    return drop_common(sets, common_hashes(picked, n, len(rows), share, min_records), min_rest, in_place=in_place)


def sample_rows(n: int, sample: int = SAMPLE) -> np.ndarray:
    """The up to ``sample`` evenly spaced records of ``n`` that document frequencies are counted on."""
    return np.linspace(0, n - 1, min(n, sample)).astype(np.int64)


def common_hashes(picked: np.ndarray, n: int, sampled: int, share: float, min_records: int) -> np.ndarray:
    """Sorted hashes in at least ``share`` of the ``sampled`` records (and ``min_records`` of all ``n``),
    from ``picked``, the sampled records' hashes concatenated (sorted in place)."""
    picked.sort()  # in place: np.unique's copies cost more than the sample itself
    new = np.ones(len(picked), dtype=bool)
    new[1:] = picked[1:] != picked[:-1]
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(picked)))
    return picked[starts[counts >= max(min_records * sampled / n, share * sampled)]]


def drop_common(
    sets: ShingleSets, common: np.ndarray, min_rest: int = MIN_REST, *, in_place: bool = False
) -> ShingleSets:
    """Each set less the sorted ``common`` hashes, unless fewer than ``min_rest`` others remain; a block of
    records at a time, over ``sets.values`` itself with ``in_place`` (see ``without_common``)."""
    if not len(common):
        return sets
    n, values, offsets = len(sets), sets.values, sets.offsets
    out = values if in_place else np.empty_like(values)
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    written = 0
    for lo, hi in _record_blocks(offsets, _FILTER_BLOCK):
        part = values[offsets[lo] : offsets[hi]]
        local = offsets[lo : hi + 1] - offsets[lo]
        keep = common[np.minimum(np.searchsorted(common, part), len(common) - 1)] != part
        keep |= np.repeat(_segment_sums(keep, local) < min_rest, np.diff(local))
        kept = part[keep]  # a copy: in place, the write below never reaches values not yet read
        np.cumsum(_segment_sums(keep, local), out=new_offsets[lo + 1 : hi + 1])
        new_offsets[lo + 1 : hi + 1] += written
        out[written : written + len(kept)] = kept
        written += len(kept)
    return ShingleSets(out[:written], new_offsets)


def _record_blocks(offsets: np.ndarray, size: int):
    """``(lo, hi)`` record ranges of about ``size`` values each (at least one record each)."""
    n, lo = len(offsets) - 1, 0
    while lo < n:
        hi = int(np.searchsorted(offsets, offsets[lo] + size, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        yield lo, hi
        lo = hi


def _segment_sums(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The number of True values of ``mask`` in each segment ``offsets[i]:offsets[i + 1]``."""
    running = np.zeros(len(mask) + 1, dtype=np.int32 if len(mask) < 2**31 else np.int64)
    np.cumsum(mask, out=running[1:])
    return (running[offsets[1:]] - running[offsets[:-1]]).astype(np.int64)


def as_sets(sets: ShingleSets | Sequence[np.ndarray]) -> ShingleSets:
    return sets if isinstance(sets, ShingleSets) else ShingleSets.from_arrays(sets)


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
        keys = (np.concatenate(rows).astype(np.uint64) << S32) | (np.concatenate(hashes) >> S32)
        keys = sorted_unique(keys)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount((keys >> S32).astype(np.int64), minlength=n), out=offsets[1:])
        return ShingleSets((keys & LOW32).astype(np.uint32), offsets)


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
    return word_rec, fmix64(words ^ ((w_end - w_start).astype(np.uint64) * GOLDEN))


_POWER_TABLES: list[np.ndarray] = []


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``B**q`` and ``B**-q`` modulo 2**64 for ``q < size`` (cached, grown by doubling)."""
    if not _POWER_TABLES or len(_POWER_TABLES[0]) < size:
        length = max(size, 2 * len(_POWER_TABLES[0]) if _POWER_TABLES else 4096)  # a small lint builds no 1M table
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
        h = (h ^ words[starts + t]) * GOLDEN
        h ^= h >> np.uint64(29)
    return fmix64(h)
