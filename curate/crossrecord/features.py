"""The per-chunk feature extractor of the cross-record rules (the engine's ``crossrecord`` feature).

Per record (see the definitions in docs/architecture.md): its group, the
64-bit digest of its normalized text, the shingle hashes and band keys of its
non-system turns; for records whose prompt C001 or L003 compares, the prompt's
digest, shingles and band keys, the answer's fact signature and negation key;
for L004, word n-gram hashes. It runs in worker processes with ``--jobs`` and
returns numpy columns only (the training n-gram texts excepted, for snippets).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from curate import facts
from curate.crossrecord.settings import RuleSettings, search
from curate.registry import feature
from curate.similarity import ShingleHasher, band_keys
from curate.split_names import GROUP_OF, TEST, TRAIN
from curate.text import final_assistant_index, normalize

FEATURE = "crossrecord"
C001_PROMPT, L003_PROMPT = 1, 2  # prompt flags: the prompt serves C001, L003
_HASHER = ShingleHasher(3, "fast")


def digest64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


@dataclass
class FeatureChunk:
    """Compact features of one chunk of ``n`` records (row ``i`` is the chunk's ``i``-th record)."""

    n: int
    group: np.ndarray  # int8, -1 where nothing applies
    exact: np.ndarray  # uint64 digest of the text
    sizes: np.ndarray  # uint32 shingle counts (0 where not computed)
    shingles: np.ndarray  # uint32 shingle hashes, rows back to back
    keys: dict = field(default_factory=dict)  # (threshold, num_perm) -> uint32 (n, bands)
    # prompts, for the rows in prow only
    prow: np.ndarray | None = None  # int32 row numbers
    pflags: np.ndarray | None = None  # int8: C001_PROMPT | L003_PROMPT
    phash: np.ndarray | None = None  # uint64 digest of the prompt text
    guard: np.ndarray | None = None  # uint64: group, system prompt, prompt facts and negation (C001 rows)
    psizes: np.ndarray | None = None
    pshingles: np.ndarray | None = None
    pkeys: dict = field(default_factory=dict)
    signatures: list = field(default_factory=list)  # fact signature strings (C001 rows, else "")
    neg: np.ndarray | None = None  # uint64 negation key of short answers (0: none)
    negpar: np.ndarray | None = None  # int8 negation parity
    # L004: protected rows' distinct n-gram hashes; train rows' n-grams in text order, with their texts
    prot_grams: tuple | None = None  # (row of each value int32, values uint64)
    train_grams: tuple | None = None  # (rows int32, values uint64, offsets int64, texts list)


@dataclass
class _Rows:
    """What the record loop gathers, before it becomes columns."""

    rows: list = field(default_factory=list)
    texts: list = field(default_factory=list)  # the non-system turns (near-duplicate text)
    digests: list = field(default_factory=list)
    prompts: list = field(default_factory=list)  # (row, flags, digest, guard, text, signature, neg key, parity)
    grams: tuple = field(
        default_factory=lambda: (([], []), ([], []))
    )  # (rows, texts) of protected and of training records, for L004


def _keys(sets, configs: list[tuple]) -> dict:
    """uint32 (m, bands) band keys of each ``(threshold, num_perm)`` config."""
    return {config: band_keys(search(config), sets) for config in configs}


@feature(FEATURE)
def extract(records, ctx) -> FeatureChunk:
    """The chunk's digests, shingles, band keys, prompts, fact signatures and n-grams (see ``FeatureChunk``)."""
    s = RuleSettings.of(ctx.options, ctx.splits)
    wanted = {name: g for name, g in GROUP_OF.items() if s.wants(g)}
    got = _Rows()
    for i, rec in enumerate(records):
        g = wanted.get(rec.split)
        if g is not None and rec.messages:
            _add(got, i, g, rec.messages, s)
    n = len(records)
    group = np.full(n, -1, dtype=np.int8)
    group[got.rows] = [wanted[records[i].split] for i in got.rows]
    exact = np.zeros(n, dtype=np.uint64)
    exact[got.rows] = np.frombuffer(b"".join(got.digests), dtype="<u8")
    chunk = FeatureChunk(n, group, exact, np.zeros(n, dtype=np.uint32), np.empty(0, np.uint32))
    _near_columns(chunk, got, s)
    if got.prompts:
        _prompt_columns(chunk, got.prompts, s)
    _gram_columns(chunk, got.grams, s.ngram)
    return chunk


def _add(got: _Rows, i: int, g: int, msgs, s: RuleSettings) -> None:
    """One record's texts, digest and prompt into ``got``."""
    tagged = [f"{m.role}: {normalize(m.text)}" for m in msgs]
    got.digests.append(hashlib.blake2b("\n".join(tagged).encode("utf-8", "surrogatepass"), digest_size=8).digest())
    text = "\n".join([t for t, m in zip(tagged, msgs) if m.role != "system"])
    got.rows.append(i)
    got.texts.append(text)
    if s.ngram and text:
        side = got.grams[1 if g == TRAIN else 0]
        side[0].append(i)
        side[1].append(text)
    if not (s.contra or s.prompt_leak):
        return
    end = final_assistant_index(msgs)
    head = range(len(msgs) if end is None else end)
    if not any(msgs[k].role == "user" for k in head):
        return
    turns = [tagged[k] for k in head if msgs[k].role != "system"]
    ptext = "\n".join(turns)
    flags = L003_PROMPT if s.prompt_leak and len(ptext.split()) - len(turns) >= s.min_words else 0
    sig, nkey, fence = "", (0, 0), 0
    if s.contra and g <= TEST and end is not None:
        sig, nkey, fence = _answer_facts(g, msgs, tagged, head, end, ptext, s.max_facts)
        if sig or nkey[0]:
            flags |= C001_PROMPT
    if flags:
        got.prompts.append((i, flags, digest64(ptext), fence, ptext, sig, nkey[0], nkey[1]))


def _near_columns(chunk: FeatureChunk, got: _Rows, s: RuleSettings) -> None:
    for key in s.full_configs:
        chunk.keys[key] = np.zeros((chunk.n, search(key).bands), dtype=np.uint32)
    near_rows = [r for r, t in zip(got.rows, got.texts) if t]  # a record of system turns only has no near-duplicates
    if s.full_configs and near_rows:
        sets = _HASHER.hash_many([t for t in got.texts if t])
        chunk.sizes[near_rows] = sets.sizes()
        chunk.shingles = sets.values
        for key, part in _keys(sets, s.full_configs).items():
            chunk.keys[key][near_rows] = part


def _prompt_columns(chunk: FeatureChunk, prompts: list, s: RuleSettings) -> None:
    prow, pflags, phash, guard, ptexts, sigs, neg, negpar = zip(*prompts)
    psets = _HASHER.hash_many(ptexts)
    chunk.prow = np.asarray(prow, dtype=np.int32)
    chunk.pflags = np.asarray(pflags, dtype=np.int8)
    chunk.phash = np.asarray(phash, dtype=np.uint64)
    chunk.guard = np.asarray(guard, dtype=np.uint64)
    chunk.psizes = psets.sizes().astype(np.uint32)
    chunk.pshingles = psets.values
    chunk.pkeys = _keys(psets, s.prompt_configs)
    chunk.signatures = list(sigs)
    chunk.neg = np.asarray(neg, dtype=np.uint64)
    chunk.negpar = np.asarray(negpar, dtype=np.int8)


def _gram_columns(chunk: FeatureChunk, grams: tuple, ngram: int) -> None:
    (prot_rows, prot_texts), (train_rows, train_texts) = grams
    if prot_rows:
        values, offsets = ShingleHasher(ngram, "fast").ngram_hashes(prot_texts)
        chunk.prot_grams = _distinct_per_row(np.asarray(prot_rows, dtype=np.int32), values, offsets)
    if train_rows:
        values, offsets = ShingleHasher(ngram, "fast").ngram_hashes(train_texts)
        chunk.train_grams = (np.asarray(train_rows, dtype=np.int32), values, offsets, train_texts)


def _answer_facts(g, msgs, tagged, head, end, ptext, max_facts) -> tuple[str, tuple[int, int], int]:
    """(fact signature, negation key, guard) of a record's final answer, for C001.

    The guard hashes what must be equal for two answers to be comparable: the
    group, the system prompt, the prompt's own facts and its negation parity
    (so "what is 12 times 7" and "12 times 8", or "is it safe" and "is it not
    safe", are never compared).
    """
    answer = tagged[end][len("assistant: ") :]
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
