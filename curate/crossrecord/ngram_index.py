"""L004's index: the protected records' distinct word n-grams, checked as training records stream in."""

from __future__ import annotations

import numpy as np

from curate.crossrecord.column import Column
from curate.crossrecord.match import Match

NGRAM_SNIPPET = 80
_MAX_SNIPPETS = 100_000


class BitFilter:
    """Membership pre-test of 64-bit hashes: one bit per slot (their top bits), about 16 slots per member,
    so a non-member passes with probability ~6% and only those reach the sorted-array search."""

    def __init__(self, members: np.ndarray):
        bits = int(min(max(len(members) * 16, 1 << 16), 1 << 32)).bit_length()
        self.shift = np.uint64(64 - bits)
        slots = (members >> self.shift).astype(np.int64)
        self.bitmap = np.zeros((1 << bits) // 8, dtype=np.uint8)
        np.bitwise_or.at(self.bitmap, slots >> 3, np.left_shift(1, slots & 7).astype(np.uint8))

    def may_contain(self, values: np.ndarray) -> np.ndarray:
        slots = (values >> self.shift).astype(np.int64)
        return ((self.bitmap[slots >> 3] >> (slots & 7).astype(np.uint8)) & 1).astype(bool)


def _distinct_grams(parts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted distinct n-gram hashes, first record holding each (int32), records holding each (int32))
    from ``(values, rows)`` parts; the parts' arrays are freed as they are joined."""
    keys = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.uint64)
    owner = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int32)
    parts.clear()
    order = np.lexsort((owner, keys))
    keys = keys[order]
    owner = owner[order]
    del order
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new)
    del new
    counts = np.diff(np.append(starts, len(keys))).astype(np.int32)
    return keys[starts], owner[starts], counts


class NgramIndex:
    """Protected n-gram hashes (sorted, with their first record and record count), and the training
    records' hits on them in text order. The engine streams protected files first, so the index is
    complete when the first training record arrives."""

    def __init__(self, max_df: int, ngram: int):
        self.max_df, self.ngram = max_df, ngram
        self._protected: list = []
        self._grams: tuple | None = None  # (sorted distinct protected n-grams, first record, record count)
        self._hit_rec = Column(np.int64)  # training record of each shared n-gram, in text order
        self._hit_id = Column(np.int64)  # and the n-gram's place in _grams
        self._snippets: dict[int, str] = {}
        self._gram_filter: BitFilter | None = None

    def add_protected(self, values: np.ndarray, rows: np.ndarray) -> None:
        self._protected.append((values, np.asarray(rows, dtype=np.int32)))  # record numbers fit 31 bits

    def check_training(self, base: int, rows, values, offsets, texts) -> None:
        """L004 as training records arrive (the engine streams protected records first)."""
        if self._grams is None:
            self._grams = _distinct_grams(self._protected)
            self._protected = []
            self._gram_filter = BitFilter(self._grams[0])
        keys, _, counts = self._grams
        if not len(keys) or not len(values):
            return
        assert self._gram_filter is not None  # built with self._grams above
        maybe = np.flatnonzero(self._gram_filter.may_contain(values))
        pos = np.minimum(np.searchsorted(keys, values[maybe]), len(keys) - 1)
        found = (keys[pos] == values[maybe]) & (counts[pos] <= self.max_df)
        hit, ids = maybe[found], pos[found]
        if not len(hit):
            return
        owner = np.repeat(np.arange(len(rows)), np.diff(offsets))[hit]
        # each record's distinct shared n-grams, by first position
        order = np.lexsort((hit, ids, owner))
        first = np.ones(len(order), dtype=bool)
        first[1:] = (owner[order][1:] != owner[order][:-1]) | (ids[order][1:] != ids[order][:-1])
        keep = np.sort(order[first])
        owner, ids, at = owner[keep], ids[keep], hit[keep] - offsets[owner[keep]]
        self._hit_rec.extend(base + rows[owner].astype(np.int64))
        self._hit_id.extend(ids)
        k = self.ngram
        for o, i, p in zip(owner.tolist(), ids.tolist(), at.tolist()):
            if i not in self._snippets and len(self._snippets) < _MAX_SNIPPETS:
                snippet = " ".join(texts[o].split()[p : p + k])
                self._snippets[i] = snippet if len(snippet) <= NGRAM_SNIPPET else snippet[: NGRAM_SNIPPET - 1] + "…"

    def matches(self, skip: np.ndarray) -> list[Match]:
        """One match per training record with a shared n-gram (not in ``skip``): its first one and the count."""
        if self._grams is None:
            return []
        rec, ids = self._hit_rec.view(), self._hit_id.view()
        # n-grams in more than max_df training records are template text too
        common = np.bincount(ids, minlength=len(self._grams[0])) > self.max_df
        valid = ~common[ids] & ~np.isin(rec, skip)
        rec, ids = rec[valid], ids[valid]
        new = np.ones(len(rec), dtype=bool)
        new[1:] = rec[1:] != rec[:-1]
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, len(rec)))
        first_record = self._grams[1]
        return [
            Match(int(rec[s]), int(first_record[ids[s]]), 1.0, self._snippets.get(int(ids[s]), ""), int(c))
            for s, c in zip(starts.tolist(), counts.tolist())
        ]
