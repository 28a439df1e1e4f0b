"""The column store: every chunk's features appended once, as growable typed columns, then frozen views."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.crossrecord.column import Column, offsets_of
from curate.crossrecord.features import FeatureChunk
from curate.crossrecord.ngram_index import NgramIndex
from curate.crossrecord.settings import RuleSettings, search
from curate.similarity import ShingleSets, without_common

# Boilerplate: shingles in at least this share of the records (and at least this many) are left out of
# near comparisons, so different questions behind one long preamble are not near (docs/architecture.md).
BOILERPLATE_SHARE = 0.05
BOILERPLATE_MIN_RECORDS = 10


@dataclass(frozen=True)
class Columns:
    """numpy views of every record's features (record ``i`` is row ``i``; prompt columns are indexed by
    prompt number, ``prow`` giving each prompt's record)."""

    group: np.ndarray
    exact: np.ndarray
    sets: ShingleSets  # boilerplate left out unless asked (``FeatureStore.columns``)
    keys: dict  # (threshold, num_perm) -> uint32 (n, bands)
    prow: np.ndarray
    pflags: np.ndarray
    phash: np.ndarray
    guard: np.ndarray
    psets: ShingleSets
    pkeys: dict
    signatures: list
    neg: np.ndarray
    negpar: np.ndarray


class FeatureStore:
    """Every record's features, appended chunk by chunk in record order."""

    def __init__(self, settings: RuleSettings):
        self.settings = settings
        self.n = 0
        self._last: FeatureChunk | None = None
        self._frozen: Columns | None = None
        self._cols = {
            name: Column(dtype)
            for name, dtype in (
                ("group", np.int8),
                ("exact", np.uint64),
                ("sizes", np.uint32),
                ("shingles", np.uint32),
                ("prow", np.int64),
                ("pflags", np.int8),
                ("phash", np.uint64),
                ("guard", np.uint64),
                ("psizes", np.uint32),
                ("pshingles", np.uint32),
                ("neg", np.uint64),
                ("negpar", np.int8),
            )
        }
        self._keys: dict = {}
        self._pkeys: dict = {}
        self._signatures: list[str] = []
        self.ngrams = NgramIndex(settings.max_df, settings.ngram)

    def ingest(self, refs, chunk: FeatureChunk) -> None:
        """Append one chunk (later calls with the same chunk, from the family's other rules, do nothing)."""
        if chunk is self._last:
            return
        self._last = chunk
        base = refs[0].index if refs else self.n
        if base != self.n:
            raise RuntimeError("cross-record features arrived out of order")
        self.n += chunk.n
        for name in ("group", "exact", "sizes", "shingles"):
            self._cols[name].extend(getattr(chunk, name))
        _extend_keys(self._keys, chunk.keys)
        if chunk.prow is not None:
            self._cols["prow"].extend(chunk.prow.astype(np.int64) + base)
            for name in ("pflags", "phash", "guard", "psizes", "pshingles", "neg", "negpar"):
                self._cols[name].extend(getattr(chunk, name))
            _extend_keys(self._pkeys, chunk.pkeys)
            self._signatures += chunk.signatures
        if chunk.prot_grams is not None:
            rows, values = chunk.prot_grams
            self.ngrams.add_protected(values, rows.astype(np.int64) + base)
        if chunk.train_grams is not None:
            self.ngrams.check_training(base, *chunk.train_grams)

    def columns(self, boilerplate: bool = False) -> Columns:
        """Frozen views of everything ingested (taken once; the columns cannot grow afterwards); the shingle
        sets leave boilerplate out unless ``boilerplate`` (``curate split`` links on whole sets)."""
        if self._frozen is None:
            sets = _sets if not boilerplate else _whole
            v = {name: col.view() for name, col in self._cols.items()}
            configs = self.settings.full_configs + self.settings.prompt_configs
            empty = {k: np.zeros((0, search(k).bands), dtype=np.uint32) for k in configs}
            self._frozen = Columns(
                v["group"],
                v["exact"],
                sets(v["shingles"], v["sizes"]),
                {**empty, **{k: c.view() for k, c in self._keys.items()}},
                v["prow"],
                v["pflags"],
                v["phash"],
                v["guard"],
                sets(v["pshingles"], v["psizes"]),
                {**empty, **{k: c.view() for k, c in self._pkeys.items()}},
                self._signatures,
                v["neg"],
                v["negpar"],
            )
        return self._frozen


def _extend_keys(columns: dict, parts: dict) -> None:
    for key, part in parts.items():
        columns.setdefault(key, Column(np.uint32, part.shape[1])).extend(part)


def _sets(values: np.ndarray, sizes: np.ndarray) -> ShingleSets:
    """The shingle sets less their boilerplate (see ``without_common``), written over the store's own
    column: the columns are frozen once, and a second copy of every shingle would double the peak."""
    return without_common(
        ShingleSets(values, offsets_of(sizes)), BOILERPLATE_SHARE, BOILERPLATE_MIN_RECORDS, in_place=True
    )


def _whole(values: np.ndarray, sizes: np.ndarray) -> ShingleSets:
    return ShingleSets(values, offsets_of(sizes))
