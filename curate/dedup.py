"""The shared core of the duplicate, contradiction and leak rules (D001, D002, C001, L001-L004).

One feature, ``dedup``, is extracted per chunk in the engine's streaming pass
(in worker processes with ``--jobs``) and returns a compact ``Chunk`` of
numpy arrays; no text outlives its chunk. One ``Corpus`` per run
(``ctx.shared_value``) takes each chunk once, whichever rule's ``collect``
sees it first, and answers every rule in ``finish``, computing each result
once. Per record it keeps about 4 bytes per distinct word 3-gram shingle,
4 bytes per LSH band (25 bands at 0.7) and 17 bytes of hashes and group;
prompts and fact signatures only for the records that need them.

Definitions (DESIGN.md section 3):

- text: ``role_tagged(messages)``: NFKC, case-folded, whitespace-collapsed
  turns as ``role: content`` joined by newlines; exact comparisons use its
  64-bit BLAKE2b digest (the one ``curate split`` uses).
- near: Jaccard similarity of the word 3-gram shingle sets of the text
  without its system turns, candidates from MinHash LSH, every reported pair
  verified exactly. A long system prompt shared by every record would
  otherwise make every record "near" every other (a 300-word prompt and two
  unrelated 20-word exchanges: Jaccard 0.88), just as a shared template
  would; records with different system prompts and the same exchange are
  near-duplicates (1.00), not exact ones.
- boilerplate: word 3-gram shingles found in at least 5% of the records
  (and in at least 10) are left out of every near comparison (D002, C001,
  L002, L003), so that a tool description, an instruction template or a long
  shared context repeated across many records does not make different
  questions near: similarity is judged on what differs. A record with
  fewer than 5 shingles besides boilerplate (a template with one slot
  filled) is compared whole. LSH candidates still come from the full
  sets; only the verification (and so the reported similarity) drops the
  boilerplate. A family of near-copies that is itself over 5% of a dataset
  is then compared on its differences; its exact copies remain D001's.
- prompt: the non-system turns before the final assistant message, tagged
  the same way, when one of them is a user turn. System turns are left out so
  a benchmark question leaks whatever system prompt wraps it, and so a long
  shared system prompt does not make every prompt "near" every other; C001
  compares only records whose system prompts are equal.
- groups: train and unsplit files are the training side (group 0); eval (1),
  test (2) and reference (3) records are protected. Duplicates and
  contradictions are looked for within groups 0, 1 and 2 (each on its own);
  leaks between group 0 and the protected groups.

LSH banding: datasketch's balanced optimum (14 bands of 9 rows at 0.7)
finds a pair at exactly 0.7 with probability 0.44 and at 0.8 with 0.87.
Since every candidate is verified, the rules band for recall instead
(``lsh_params``): the most rows that still find a pair at the threshold
with probability 0.985; at 128 permutations 25 x 5 at 0.7 (0.99 at 0.7,
0.55 at 0.5), 12 x 10 at 0.9 (0.994 at 0.9, 0.29 at 0.7). On 100k heavily
templated records (most pairs at Jaccard 0.5-0.7) this finds 1.5% more
near-duplicates than 20 x 6 for 15% more verification time; on ordinary data
the extra candidates are negligible.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from curate import facts
from curate.diagnostics import Finding
from curate.errors import CurateError
from curate.registry import feature
from curate.similarity import (LSHIndex, MinHasher, ShingleHasher, ShingleSets, verify_in_rounds, verify_pairs,
                               without_common)
from curate.text import final_assistant_index, normalize

FEATURE = "dedup"
TRAIN, EVAL, TEST, REFERENCE = 0, 1, 2, 3
GROUP_OF = {"train": TRAIN, "unsplit": TRAIN, "eval": EVAL, "test": TEST, "reference": REFERENCE}
LSH_RECALL = 0.985
FANOUT = 4
BAND_GROUP = 2  # LSH bands whose candidates are generated and verified at a time (memory)
# Distinct answers an exact-prompt group compares each record with (C001).
MAX_DISTINCT_ANSWERS = 16
NGRAM_SNIPPET = 80
_MAX_SNIPPETS = 100_000
_C001, _L003 = 1, 2  # prompt flags: the prompt serves C001, L003
# Boilerplate: shingles in at least this share of the records (and at least this many) are left out of
# near comparisons, so different questions behind one long preamble are not near (see the module doc).
BOILERPLATE_SHARE = 0.05
BOILERPLATE_MIN_RECORDS = 10
_SALT = np.array([0x9E3779B9, 0x7F4A7C15, 0x85EBCA6B, 0xC2B2AE35], dtype=np.uint32)


def digest64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


@lru_cache(maxsize=None)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows of the rules' LSH: the most rows (fewest false candidates) with ``num_perm // rows``
    bands that still find a pair at exactly ``threshold`` with probability ``LSH_RECALL``."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= LSH_RECALL:
            return bands, rows
    return num_perm, 1


# --------------------------------------------------------------------------
# Settings: what to compute, from the selected rules' options


@dataclass(frozen=True)
class Settings:
    """What the selected rules need; the feature extractor and the corpus derive the same one."""

    codes: frozenset
    leaks: bool  # a leak rule is selected and both sides (train, protected) are present
    dup: tuple | None = None  # D002 (threshold, num_perm)
    near_leak: tuple | None = None  # L002
    contra: tuple | None = None  # C001 prompt (threshold, num_perm)
    prompt_leak: tuple | None = None  # L003
    max_facts: int = 6
    min_words: int = 5
    ngram: int = 0  # L004 n-gram length, 0 when L004 is off
    max_df: int = 10

    @classmethod
    def of(cls, options: dict, splits) -> Settings:
        """Settings for the selected codes among ``options`` (code -> options); bad options raise CurateError."""
        codes = frozenset(c for c in options if c in ("D001", "D002", "C001", "L001", "L002", "L003", "L004"))
        splits = set(splits)
        leaks = any(c.startswith("L") for c in codes) and bool(splits & {"train", "unsplit"}) \
            and bool(splits & {"eval", "test", "reference"})
        kw: dict = {}
        if "D002" in codes:
            kw["dup"] = _lsh_option("D002", options["D002"])
        if "C001" in codes:
            kw["contra"] = _lsh_option("C001", options["C001"])
            kw["max_facts"] = _positive("C001", "max_facts", options["C001"])
        if "L002" in codes:
            kw["near_leak"] = _lsh_option("L002", options["L002"])
        if "L003" in codes:
            kw["prompt_leak"] = _lsh_option("L003", options["L003"])
            kw["min_words"] = int(options["L003"]["min_words"])
        if "L004" in codes:
            kw["ngram"] = _positive("L004", "ngram", options["L004"])
            kw["max_df"] = _positive("L004", "max_df", options["L004"])
        if not leaks:  # nothing to compare: no leak work at all
            for key in ("near_leak", "prompt_leak", "ngram"):
                kw.pop(key, None)
        return cls(codes, leaks, **kw)

    @property
    def within(self) -> bool:
        """Duplicates or contradictions are looked for (groups 0-2)."""
        return bool(self.codes & {"D001", "D002", "C001"})

    @property
    def full_configs(self) -> list[tuple]:
        return sorted({c for c in (self.dup, self.near_leak) if c})

    @property
    def prompt_configs(self) -> list[tuple]:
        return sorted({c for c in (self.contra, self.prompt_leak) if c})

    def wants(self, group: int) -> bool:
        return (self.within and group <= TEST) or self.leaks


def _lsh_option(code: str, opts: dict) -> tuple[float, int]:
    threshold = float(opts["threshold"])
    if not 0.0 < threshold <= 1.0:
        raise CurateError(f"{code}.threshold must be in (0, 1], got {threshold}")
    return threshold, _positive(code, "num_perm", opts)


def _positive(code: str, name: str, opts: dict) -> int:
    value = opts[name]
    if not isinstance(value, int) or value < 1:
        raise CurateError(f"{code}.{name} must be a positive integer, got {value!r}")
    return value


# --------------------------------------------------------------------------
# Feature extraction (per chunk, possibly in a worker process)


@dataclass
class Chunk:
    """Compact features of one chunk of ``n`` records (row ``i`` is the chunk's ``i``-th record)."""

    n: int
    group: np.ndarray  # int8, -1 where nothing applies
    exact: np.ndarray  # uint64 digest of the text
    sizes: np.ndarray  # uint32 shingle counts (0 where not computed)
    shingles: np.ndarray  # uint32 shingle hashes, rows back to back
    keys: dict = field(default_factory=dict)  # (threshold, num_perm) -> uint32 (n, bands)
    # prompts, for the rows in prow only
    prow: np.ndarray = None  # int32 row numbers
    pflags: np.ndarray = None  # int8: _C001 | _L003
    phash: np.ndarray = None  # uint64 digest of the prompt text
    guard: np.ndarray = None  # uint64: group, system prompt, prompt facts and negation (C001 rows)
    psizes: np.ndarray = None
    pshingles: np.ndarray = None
    pkeys: dict = field(default_factory=dict)
    signatures: list = field(default_factory=list)  # fact signature strings (C001 rows, else "")
    neg: np.ndarray = None  # uint64 negation key of short answers (0: none)
    negpar: np.ndarray = None  # int8 negation parity
    # L004: protected rows' distinct n-gram hashes; train rows' n-grams in text order, with their texts
    prot_grams: tuple = None  # (row of each value int32, values uint64)
    train_grams: tuple = None  # (rows int32, values uint64, offsets int64, texts list)


_HASHER = ShingleHasher(3, "fast")
_MINHASHERS: dict = {}
_INDEXES: dict = {}


def _keys(sets: ShingleSets, configs: list[tuple]) -> dict:
    """uint32 (m, bands) band keys (their high 32 bits) of each config; one MinHash per num_perm."""
    out, sigs = {}, {}
    for threshold, num_perm in configs:
        if num_perm not in sigs:
            hasher = _MINHASHERS.setdefault(num_perm, MinHasher(num_perm))
            sigs[num_perm] = hasher.signatures(sets)
        key = (threshold, num_perm)
        index = _INDEXES.setdefault(key, LSHIndex(threshold, num_perm, FANOUT, lsh_params(threshold, num_perm)))
        out[key] = np.ascontiguousarray((index.band_keys(sigs[num_perm]) >> np.uint64(32)).astype(np.uint32).T)
    return out


@feature(FEATURE)
def extract(records, ctx) -> Chunk:
    """The chunk's digests, shingles, band keys, prompts, fact signatures and n-grams (see ``Chunk``)."""
    s = Settings.of(ctx.options, ctx.splits)
    n = len(records)
    wanted = {name: g for name, g in GROUP_OF.items() if s.wants(g)}
    group = np.full(n, -1, dtype=np.int8)
    rows, texts, digests = [], [], []  # texts: the non-system turns (near-duplicate text)
    prow, pflags, phash, guard, ptexts, sigs, neg, negpar = [], [], [], [], [], [], [], []
    grams = (([], []), ([], []))  # (rows, non-system texts) of protected and of training records, for L004
    prompts = bool(s.contra or s.prompt_leak)
    blake2b = hashlib.blake2b
    for i, rec in enumerate(records):
        msgs = rec.messages
        g = wanted.get(rec.split)
        if g is None or not msgs:
            continue
        tagged = [f"{m.role}: {normalize(m.text)}" for m in msgs]
        digests.append(blake2b("\n".join(tagged).encode("utf-8", "surrogatepass"), digest_size=8).digest())
        text = "\n".join([t for t, m in zip(tagged, msgs) if m.role != "system"])
        rows.append(i)
        texts.append(text)
        if s.ngram and text:
            side = grams[1 if g == TRAIN else 0]
            side[0].append(i)
            side[1].append(text)
        if not prompts:
            continue
        end = final_assistant_index(msgs)
        head = range(len(msgs) if end is None else end)
        if not any(msgs[k].role == "user" for k in head):
            continue
        turns = [tagged[k] for k in head if msgs[k].role != "system"]
        ptext = "\n".join(turns)
        flags = _L003 if s.prompt_leak and len(ptext.split()) - len(turns) >= s.min_words else 0
        sig, nkey, fence = "", (0, 0), 0
        if s.contra and g <= TEST and end is not None:
            sig, nkey, fence = _answer_facts(g, msgs, tagged, head, end, ptext, s.max_facts)
            if sig or nkey[0]:
                flags |= _C001
        if not flags:
            continue
        prow.append(i)
        guard.append(fence)
        pflags.append(flags)
        phash.append(digest64(ptext))
        ptexts.append(ptext)
        sigs.append(sig)
        neg.append(nkey[0])
        negpar.append(nkey[1])

    group[rows] = [wanted[records[i].split] for i in rows]
    exact = np.zeros(n, dtype=np.uint64)
    exact[rows] = np.frombuffer(b"".join(digests), dtype="<u8")
    chunk = Chunk(n, group, exact, np.zeros(n, dtype=np.uint32), np.empty(0, np.uint32))
    for key in s.full_configs:
        chunk.keys[key] = np.zeros((n, lsh_params(*key)[0]), dtype=np.uint32)
    near_rows = [r for r, t in zip(rows, texts) if t]  # a record of system turns only has no near-duplicates
    if s.full_configs and near_rows:
        sets = _HASHER.hash_many([t for t in texts if t])
        chunk.sizes[near_rows] = sets.sizes()
        chunk.shingles = sets.values
        for key, part in _keys(sets, s.full_configs).items():
            chunk.keys[key][near_rows] = part
    if prow:
        psets = _HASHER.hash_many(ptexts)
        chunk.prow = np.asarray(prow, dtype=np.int32)
        chunk.pflags = np.asarray(pflags, dtype=np.int8)
        chunk.phash = np.asarray(phash, dtype=np.uint64)
        chunk.guard = np.asarray(guard, dtype=np.uint64)
        chunk.psizes = psets.sizes().astype(np.uint32)
        chunk.pshingles = psets.values
        chunk.pkeys = _keys(psets, s.prompt_configs)
        chunk.signatures = sigs
        chunk.neg = np.asarray(neg, dtype=np.uint64)
        chunk.negpar = np.asarray(negpar, dtype=np.int8)
    (prot_rows, prot_texts), (train_rows, train_texts) = grams
    if prot_rows:
        values, offsets = ShingleHasher(s.ngram, "fast").ngram_hashes(prot_texts)
        chunk.prot_grams = _distinct_per_row(np.asarray(prot_rows, dtype=np.int32), values, offsets)
    if train_rows:
        values, offsets = ShingleHasher(s.ngram, "fast").ngram_hashes(train_texts)
        chunk.train_grams = (np.asarray(train_rows, dtype=np.int32), values, offsets, train_texts)
    return chunk


def _answer_facts(g, msgs, tagged, head, end, ptext, max_facts) -> tuple[str, tuple[int, int], int]:
    """(fact signature, negation key, guard) of a record's final answer, for C001.

    The guard hashes what must be equal for two answers to be comparable: the
    group, the system prompt, the prompt's own facts and its negation parity
    (so "what is 12 times 7" and "12 times 8", or "is it safe" and "is it not
    safe", are never compared).
    """
    answer = tagged[end][len("assistant: "):]
    found = facts.values(answer, limit=4 * max_facts)
    nkey = facts.negation_key(answer)
    if not found and not nkey[0]:
        return "", nkey, 0
    prompt_facts = facts.values(ptext, polarity=False, limit=4 * max_facts)
    sig = facts.signature_of(found, prompt_facts, max_facts)
    system = "\n".join(tagged[k] for k in head if msgs[k].role == "system")
    fence = digest64(f"{g}\0{system}\0{facts.canonical(prompt_facts)}\0{facts.negation_parity(ptext)}")
    return sig, nkey, fence


def _distinct_per_row(rows: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> tuple:
    """(row of each value, values) with each row's duplicates removed."""
    owner = np.repeat(rows, np.diff(offsets))
    order = np.lexsort((values, owner))
    owner, values = owner[order], values[order]
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = (values[1:] != values[:-1]) | (owner[1:] != owner[:-1])
    return owner[keep], values[keep]


# --------------------------------------------------------------------------
# The corpus: every chunk's features, kept compactly, and the results


class _Column:
    """A growable typed column (an ``array``; reallocated in place where the allocator can)."""

    def __init__(self, dtype, width: int | None = None):
        self.dtype = np.dtype(dtype)
        self.width = width  # None: one value per row; else rows of `width` values
        code = {1: "b", 4: "I", 8: "q"}[self.dtype.itemsize]
        self.data = array(code)
        assert self.data.itemsize == self.dtype.itemsize

    def extend(self, values) -> None:
        self.data.frombytes(np.ascontiguousarray(values, dtype=self.dtype).tobytes())

    def view(self) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=self.dtype) if len(self.data) else np.empty(0, self.dtype)
        return out if self.width is None else out.reshape(-1, self.width)


class _BitFilter:
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


def _offsets(sizes: np.ndarray) -> np.ndarray:
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def _first_per_key(keys: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (sorted) and the smallest index holding each."""
    order = np.lexsort((index, keys))
    keys, index = keys[order], index[order]
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    return keys[new], index[new]


def _lookup(table_keys: np.ndarray, table_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``table_values`` at each key's place in sorted ``table_keys``, -1 where absent."""
    if not len(table_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(table_keys, keys), len(table_keys) - 1)
    return np.where(table_keys[pos] == keys, table_values[pos], -1).astype(np.int64)


def _earliest(owner: np.ndarray, other: np.ndarray, sims: np.ndarray) -> tuple:
    """Per distinct owner, its smallest ``other`` and that pair's similarity."""
    order = np.lexsort((other, owner))
    owner, other, sims = owner[order], other[order], sims[order]
    new = np.ones(len(owner), dtype=bool)
    new[1:] = owner[1:] != owner[:-1]
    return owner[new], other[new], sims[new]


@dataclass
class Match:
    """A finding of one rule: record ``index`` against the earlier or protected record ``other``."""

    index: int
    other: int
    similarity: float = 1.0
    detail: str = ""
    count: int = 0


class Corpus:
    """Every record's features, and the pairs each rule reports (computed once, on first request)."""

    def __init__(self, splits):
        self.splits = frozenset(splits)
        self.options: dict = {}
        self.settings: Settings | None = None
        self._last = None
        self._n = 0
        self._results: dict = {}
        self._group = _Column(np.int8)
        self._exact = _Column(np.uint64)
        self._sizes = _Column(np.uint32)
        self._shingles = _Column(np.uint32)
        self._keys: dict = {}
        self._prow = _Column(np.int64)
        self._pflags = _Column(np.int8)
        self._phash = _Column(np.uint64)
        self._guard = _Column(np.uint64)
        self._psizes = _Column(np.uint32)
        self._pshingles = _Column(np.uint32)
        self._pkeys: dict = {}
        self._signatures: list[str] = []
        self._neg = _Column(np.uint64)
        self._negpar = _Column(np.int8)
        # L004
        self._prot_gram_parts: list = []
        self._grams: tuple | None = None  # (sorted distinct protected n-grams, first record, record count)
        self._hit_rec = _Column(np.int64)  # training record of each shared n-gram, in text order
        self._hit_id = _Column(np.int64)  # and the n-gram's place in _grams
        self._snippets: dict[int, str] = {}
        self._gram_filter: _BitFilter | None = None
        self._frozen: dict | None = None

    def register(self, code: str, options: dict) -> None:
        self.options[code] = options

    # ---- streaming

    def ingest(self, refs, chunk: Chunk) -> None:
        """Take one chunk's features (later calls with the same chunk, from the other rules, do nothing)."""
        if chunk is self._last:
            return
        self._last = chunk
        if self.settings is None:
            self.settings = Settings.of(self.options, self.splits)
        base = refs[0].index if refs else self._n
        if base != self._n:
            raise RuntimeError("dedup features arrived out of order")
        self._n += chunk.n
        self._group.extend(chunk.group)
        self._exact.extend(chunk.exact)
        self._sizes.extend(chunk.sizes)
        self._shingles.extend(chunk.shingles)
        for key, part in chunk.keys.items():
            self._keys.setdefault(key, _Column(np.uint32, part.shape[1])).extend(part)
        if chunk.prow is not None:
            self._prow.extend(chunk.prow.astype(np.int64) + base)
            self._pflags.extend(chunk.pflags)
            self._phash.extend(chunk.phash)
            self._guard.extend(chunk.guard)
            self._psizes.extend(chunk.psizes)
            self._pshingles.extend(chunk.pshingles)
            for key, part in chunk.pkeys.items():
                self._pkeys.setdefault(key, _Column(np.uint32, part.shape[1])).extend(part)
            self._signatures += chunk.signatures
            self._neg.extend(chunk.neg)
            self._negpar.extend(chunk.negpar)
        if chunk.prot_grams is not None:
            rows, values = chunk.prot_grams
            self._prot_gram_parts.append((values, rows.astype(np.int64) + base))
        if chunk.train_grams is not None:
            self._check_grams(base, *chunk.train_grams)

    def _check_grams(self, base: int, rows, values, offsets, texts) -> None:
        """L004 as training records arrive (the engine streams protected records first)."""
        if self._grams is None:
            parts = self._prot_gram_parts
            self._prot_gram_parts = []
            keys = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.uint64)
            owner = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
            order = np.lexsort((owner, keys))
            keys, owner = keys[order], owner[order]
            new = np.ones(len(keys), dtype=bool)
            new[1:] = keys[1:] != keys[:-1]
            starts = np.flatnonzero(new)
            self._grams = (keys[starts], owner[starts], np.diff(np.append(starts, len(keys))))
            self._gram_filter = _BitFilter(keys[starts])
        keys, _, counts = self._grams
        if not len(keys) or not len(values):
            return
        maybe = np.flatnonzero(self._gram_filter.may_contain(values))
        pos = np.minimum(np.searchsorted(keys, values[maybe]), len(keys) - 1)
        found = (keys[pos] == values[maybe]) & (counts[pos] <= self.settings.max_df)
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
        k = self.settings.ngram
        for o, i, p in zip(owner.tolist(), ids.tolist(), at.tolist()):
            if i not in self._snippets and len(self._snippets) < _MAX_SNIPPETS:
                snippet = " ".join(texts[o].split()[p:p + k])
                self._snippets[i] = snippet if len(snippet) <= NGRAM_SNIPPET else snippet[:NGRAM_SNIPPET - 1] + "…"

    # ---- results

    def _data(self) -> dict:
        """numpy views of everything collected (taken once; the columns cannot grow afterwards)."""
        if self._frozen is None:
            d = {"group": self._group.view(), "exact": self._exact.view()}
            d["sets"] = without_common(ShingleSets(self._shingles.view(), _offsets(self._sizes.view())),
                                       BOILERPLATE_SHARE, BOILERPLATE_MIN_RECORDS)
            configs = self.settings.full_configs + self.settings.prompt_configs
            empty = {k: np.zeros((0, lsh_params(*k)[0]), dtype=np.uint32) for k in configs}
            d["keys"] = {**empty, **{k: c.view() for k, c in self._keys.items()}}
            d["prow"], d["pflags"] = self._prow.view(), self._pflags.view()
            d["phash"], d["guard"] = self._phash.view(), self._guard.view()
            d["psets"] = without_common(ShingleSets(self._pshingles.view(), _offsets(self._psizes.view())),
                                        BOILERPLATE_SHARE, BOILERPLATE_MIN_RECORDS)
            d["pkeys"] = {**empty, **{k: c.view() for k, c in self._pkeys.items()}}
            d["neg"], d["negpar"] = self._neg.view(), self._negpar.view()
            self._frozen = d
        return self._frozen

    def result(self, code: str) -> list[Match]:
        """The matches rule ``code`` reports, sorted by record."""
        if code not in self._results:
            if self.settings is None:
                self.settings = Settings.of(self.options, self.splits)
            self._results[code] = getattr(self, "_" + code.lower())()
        return self._results[code]

    def _reported(self, *codes: str) -> np.ndarray:
        """Records already reported by the selected ones of ``codes`` (a stronger finding of the family)."""
        hit = [np.asarray([m.index for m in self.result(c)], dtype=np.int64) for c in codes
               if c in self.settings.codes]
        return np.concatenate(hit) if hit else np.empty(0, np.int64)

    @staticmethod
    def _matches(index, other, sims=None) -> list[Match]:
        sims = np.ones(len(index)) if sims is None else sims
        out = [Match(int(i), int(o), float(s)) for i, o, s in zip(index.tolist(), other.tolist(), sims.tolist())]
        out.sort(key=lambda m: m.index)
        return out

    def _candidates(self, config: tuple, keys: np.ndarray, salt=None, other: np.ndarray | None = None):
        """LSH candidate pairs over uint32 (m, bands) keys (each row xor-ed with its ``salt``), within
        ``keys`` or across to ``other``, yielded ``BAND_GROUP`` bands at a time: a templated dataset's
        capped buckets still give several pairs per record and band, so memory stays bounded this way."""
        threshold, num_perm = config
        bands, rows = lsh_params(threshold, num_perm)
        for lo in range(0, bands, BAND_GROUP):
            hi = min(lo + BAND_GROUP, bands)
            part = keys[:, lo:hi] if salt is None else keys[:, lo:hi] ^ salt[:, None]
            index = LSHIndex(threshold, num_perm, FANOUT, (hi - lo, rows))
            index.add_keys(part.T.astype(np.uint64) << np.uint64(32))
            if other is None:
                yield index.candidate_pairs()
            else:
                right = LSHIndex(threshold, num_perm, FANOUT, (hi - lo, rows))
                right.add_keys(other[:, lo:hi].T.astype(np.uint64) << np.uint64(32))
                yield index.cross_candidates(right)

    @staticmethod
    def _earliest_verified(candidates, sets: ShingleSets, threshold: float, owner: int, size: int):
        """The owners (column ``owner`` of the global pairs) with a verified partner, the partner, the similarity.

        Within each batch of candidates an owner's partners are verified in ascending order, ``FANOUT`` at a
        time, until one matches (``verify_in_rounds``); the smallest match is kept and the owner takes no
        further part. So each owner costs a few verifications, and its partner is the earliest match of
        the first batch that has one.
        """
        best = np.full(size, -1, dtype=np.int64)
        sims = np.zeros(size)
        for pairs in candidates:
            pairs = pairs[best[pairs[:, owner]] < 0]
            pairs, found = verify_in_rounds(sets, sets, pairs, threshold, owner, FANOUT)
            who, partner, found = _earliest(pairs[:, owner], pairs[:, 1 - owner], found)
            best[who], sims[who] = partner, found
        who = np.flatnonzero(best >= 0)
        return who, best[who], sims[who]

    # D001: same text as an earlier record of the same group
    def _d001(self) -> list[Match]:
        d = self._data()
        rows = np.flatnonzero((d["group"] >= TRAIN) & (d["group"] <= TEST))
        order = np.lexsort((rows, d["exact"][rows], d["group"][rows]))
        rows = rows[order]
        g, h = d["group"][rows], d["exact"][rows]
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (g[1:] != g[:-1]) | (h[1:] != h[:-1])
        first = rows[np.flatnonzero(new)[np.cumsum(new) - 1]]
        return self._matches(rows[~new], first[~new])

    # D002: verified Jaccard >= threshold with an earlier record of the same group
    def _d002(self) -> list[Match]:
        d = self._data()
        threshold = self.settings.dup[0]
        copies = self.result("D001")
        copy_rows = np.asarray([m.index for m in copies], dtype=np.int64)
        keep = (d["group"] >= TRAIN) & (d["group"] <= TEST) & (d["sets"].sizes() > 0)
        keep[copy_rows] = False
        rows = np.flatnonzero(keep)
        group = d["group"]
        keys = d["keys"][self.settings.dup][rows]
        # the group salt keeps splits apart in the buckets; the filter catches a 32-bit salt collision
        candidates = (pairs[group[pairs[:, 0]] == group[pairs[:, 1]]]
                      for pairs in (rows[c] for c in self._candidates(self.settings.dup, keys, _SALT[group[rows]])))
        out = self._matches(*self._earliest_verified(candidates, d["sets"], threshold, 1, len(d["group"])))
        if "D001" not in self.settings.codes:  # an exact copy is also Jaccard 1.0
            out = sorted(out + copies, key=lambda m: m.index)
        return out

    # L001: a training record's text equals a protected record's
    def _l001(self) -> list[Match]:
        if not self.settings.leaks:
            return []
        d = self._data()
        prot = np.flatnonzero(d["group"] >= EVAL)
        keys, first = _first_per_key(d["exact"][prot], prot)
        train = np.flatnonzero(d["group"] == TRAIN)
        other = _lookup(keys, first, d["exact"][train])
        return self._matches(train[other >= 0], other[other >= 0])

    # L002: verified Jaccard >= threshold between a training and a protected record
    def _l002(self) -> list[Match]:
        if not self.settings.leaks:
            return []
        d = self._data()
        threshold = self.settings.near_leak[0]
        exact = self.result("L001")
        has_text = d["sets"].sizes() > 0
        train_mask = (d["group"] == TRAIN) & has_text
        train_mask[[m.index for m in exact]] = False
        train = np.flatnonzero(train_mask)
        prot = np.flatnonzero((d["group"] >= EVAL) & has_text)
        prot = _first_per_key(d["exact"][prot], prot)[1]
        prot.sort()
        keys = d["keys"][self.settings.near_leak]
        candidates = (np.stack([train[c[:, 0]], prot[c[:, 1]]], axis=1)
                      for c in self._candidates(self.settings.near_leak, keys[train], other=keys[prot]))
        out = self._matches(*self._earliest_verified(candidates, d["sets"], threshold, 0, len(d["group"])))
        if "L001" not in self.settings.codes:
            out = sorted(out + exact, key=lambda m: m.index)
        return out

    # L003: a protected prompt equals or is near a training prompt
    def _l003(self) -> list[Match]:
        if not self.settings.leaks:
            return []
        d = self._data()
        threshold = self.settings.prompt_leak[0]
        eligible = (d["pflags"] & _L003) > 0
        pgroup = d["group"][d["prow"]]
        done = np.zeros(len(d["group"]), dtype=bool)
        done[self._reported("L001", "L002")] = True
        train = np.flatnonzero(eligible & (pgroup == TRAIN) & ~done[d["prow"]])
        prot = np.flatnonzero(eligible & (pgroup >= EVAL))
        # prompt-local indices are in record order, so the smallest is the earliest record
        keys, first = _first_per_key(d["phash"][prot], prot)
        other = _lookup(keys, first, d["phash"][train])
        exact_t, exact_o = train[other >= 0], other[other >= 0]
        train = train[other < 0]
        prot = np.sort(first)
        pkeys = d["pkeys"][self.settings.prompt_leak]
        candidates = (np.stack([train[c[:, 0]], prot[c[:, 1]]], axis=1)
                      for c in self._candidates(self.settings.prompt_leak, pkeys[train], other=pkeys[prot]))
        near_t, near_o, sims = self._earliest_verified(candidates, d["psets"], threshold, 0, len(d["prow"]))
        prow = d["prow"]
        return self._matches(prow[np.concatenate([exact_t, near_t])], prow[np.concatenate([exact_o, near_o])],
                             np.concatenate([np.ones(len(exact_t)), sims]))

    # L004: a training record shares a word n-gram with a protected record
    def _l004(self) -> list[Match]:
        if self._grams is None:
            return []
        rec, ids = self._hit_rec.view(), self._hit_id.view()
        # n-grams in more than max_df training records are template text too
        common = np.bincount(ids, minlength=len(self._grams[0])) > self.settings.max_df
        valid = ~common[ids] & ~np.isin(rec, self._reported("L001", "L002", "L003"))
        rec, ids = rec[valid], ids[valid]
        new = np.ones(len(rec), dtype=bool)
        new[1:] = rec[1:] != rec[:-1]
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, len(rec)))
        first_record = self._grams[1]
        return [Match(int(rec[s]), int(first_record[ids[s]]), 1.0, self._snippets.get(int(ids[s]), ""), int(c))
                for s, c in zip(starts.tolist(), counts.tolist())]

    # C001: equal or near prompts (same system prompt and prompt facts), conflicting answer facts
    def _c001(self) -> list[Match]:
        """Records in order: each against the earlier unflagged records with the same prompt (one per distinct
        answer) or a verified near prompt; the first conflict flags it. Flagged records are no reference for
        later ones, so in 84, 86, 84 only the 86 is flagged."""
        d = self._data()
        threshold = self.settings.contra[0]
        part = np.flatnonzero((d["pflags"] & _C001) > 0)
        sigs, neg, negpar = self._signatures, d["neg"].tolist(), d["negpar"].tolist()
        # same prompt: a run id per (guard, prompt) shared by two or more records
        guard, phash = d["guard"][part], d["phash"][part]
        order = np.lexsort((part, phash, guard))
        new = np.ones(len(part), dtype=bool)
        new[1:] = (guard[order][1:] != guard[order][:-1]) | (phash[order][1:] != phash[order][:-1])
        run_of = np.empty(len(part), dtype=np.int64)
        run_of[order] = np.cumsum(new) - 1
        shared_run = np.bincount(run_of)[run_of] > 1
        # near prompts: LSH within each guard, every candidate verified
        salt = (guard >> np.uint64(32)).astype(np.uint32) ^ guard.astype(np.uint32)
        near: dict[int, dict] = {}
        for pairs in self._candidates(self.settings.contra, d["pkeys"][self.settings.contra][part], salt):
            pairs = part[pairs]
            pairs = pairs[(d["phash"][pairs[:, 0]] != d["phash"][pairs[:, 1]])
                          & (d["guard"][pairs[:, 0]] == d["guard"][pairs[:, 1]])]
            pairs, sims = verify_pairs(d["psets"], d["psets"], pairs, threshold)
            for i, j, sim in zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), sims.tolist()):
                near.setdefault(j, {})[i] = sim
        run_of = dict(zip(part[shared_run].tolist(), run_of[shared_run].tolist()))
        answers: dict[int, dict] = {}  # run -> distinct answer -> its first unflagged record
        flagged: dict[int, Match] = {}
        for j in sorted(set(run_of) | set(near)):
            run = run_of.get(j)
            reps = answers.setdefault(run, {}) if run is not None else {}
            candidates = [(i, 1.0) for i in reps.values()] + [(i, s) for i, s in near.get(j, {}).items()
                                                               if i not in flagged]
            for i, sim in sorted(candidates):
                found = facts.conflicts(sigs[j], sigs[i])
                negation = neg[j] != 0 and neg[j] == neg[i] and negpar[j] != negpar[i]
                if found or negation:
                    flagged[j] = Match(j, i, sim, facts.describe(found, negation))
                    break
            answer = (sigs[j], neg[j], negpar[j])
            if j not in flagged and run is not None and answer not in reps and len(reps) < MAX_DISTINCT_ANSWERS:
                reps[answer] = j
        prow = d["prow"]
        return [Match(int(prow[m.index]), int(prow[m.other]), m.similarity, m.detail)
                for m in sorted(flagged.values(), key=lambda m: m.index)]


def corpus(ctx, code: str) -> Corpus:
    """The run's shared corpus, with rule ``code`` and its options registered."""
    shared = ctx.shared_value(FEATURE, lambda: Corpus(ctx.splits))
    shared.register(code, ctx.options)
    return shared


class DedupRule:
    """Base of the rules built on the corpus: collect feeds it, finish formats its matches."""

    code = ""

    def __init__(self, ctx):
        Settings.of({self.code: ctx.options}, ctx.splits)  # bad options fail here, before any work
        self.ctx = ctx
        self.table = ctx.table
        self.corpus = corpus(ctx, self.code)

    def collect(self, refs, feats):
        self.corpus.ingest(refs, feats[FEATURE])

    def location(self, index: int):
        return self.table.location(index)

    def split_name(self, index: int) -> str:
        return self.table.splits[index]

    def finish(self):
        for m in self.corpus.result(self.code):
            loc, other = self.location(m.index), self.location(m.other)
            yield Finding(self.message(m, other), path=loc.path, line=loc.line, related=(other,), record=m.index)

    def message(self, match: Match, other) -> str:
        raise NotImplementedError
