"""What `curate split` knows of each record: the leak rules' own features, and the searches over them.

Features come from the cross-record extractor and column store
(``curate.crossrecord``) with the L001-L003 options: each record's text
digest, shingle sets and band keys, and the same for its prompt where L003 compares one. The searches are
``curate.similarity.search``'s stages with the rules' own ``SearchSettings``
(banded for recall: 99% of the pairs at exactly 0.7, 99.4% of the prompt
pairs at 0.9), every candidate verified at the rules' thresholds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice

import numpy as np

from curate.config import Config
from curate.crossrecord.features import FeatureChunk, extract
from curate.crossrecord.settings import RuleSettings, search
from curate.crossrecord.store import FeatureStore
from curate.engine import RuleContext
from curate.errors import CurateError
from curate.parallel import ordered_map
from curate.parse import parse
from curate.reader import DEFAULT_MAX_RECORD_BYTES, FileInfo, read_file
from curate.records import Message, Record
from curate.similarity import (
    SearchSettings,
    ShingleSets,
    all_verified,
    candidates,
    connected_components,
    cross_candidates,
)

_CHUNK = 4096
# Splits that make the extractor compute what the leak rules compare.
_SIDES = frozenset({"train", "eval"})


@dataclass(frozen=True)
class SplitOptions:
    """The leak rules' settings (L002 and L003 options) that the split links and verifies with."""

    threshold: float = 0.7
    num_perm: int = 128
    prompt_threshold: float = 0.9
    prompt_num_perm: int = 128
    min_words: int = 5

    @classmethod
    def from_config(cls, config=None) -> SplitOptions:
        """The options of L002 and L003 as configured (defaults without a config)."""
        cfg = config or Config()
        near, prompt = cfg.options_for("L002"), cfg.options_for("L003")
        return cls(near["threshold"], near["num_perm"], prompt["threshold"], prompt["num_perm"], prompt["min_words"])

    def rule_options(self) -> dict:
        """Options for the cross-record feature extractor: what L001-L003 compare."""
        return {
            "L001": {},
            "L002": {"threshold": self.threshold, "num_perm": self.num_perm},
            "L003": {"threshold": self.prompt_threshold, "num_perm": self.prompt_num_perm, "min_words": self.min_words},
        }

    @property
    def text_config(self) -> tuple[float, int]:
        return self.threshold, self.num_perm

    @property
    def prompt_config(self) -> tuple[float, int]:
        return self.prompt_threshold, self.prompt_num_perm


@dataclass
class Features:
    """Per-record columns; the prompt columns only for the records whose prompt L003 compares."""

    digests: np.ndarray  # uint64 digest of the normalized conversation text
    sets: ShingleSets
    bands: np.ndarray  # uint32 (n, bands) band keys of the text
    prompt_rows: np.ndarray  # int64 record indices with a prompt
    prompt_digests: np.ndarray
    prompt_sets: ShingleSets
    prompt_bands: np.ndarray

    def __len__(self) -> int:
        return len(self.digests)


def batch_features(records: Sequence[Record], opts: SplitOptions) -> FeatureChunk:
    """The extractor's columns for one batch of parsed records."""
    return extract(records, RuleContext(opts.rule_options(), splits=_SIDES))


def collect(chunks: Iterable[FeatureChunk], opts: SplitOptions) -> Features:
    """The batches' columns appended into the cross-record column store, as ``Features`` (never two copies
    at once). Shingle sets keep their boilerplate: a templated family stays one cluster, in train."""
    store = FeatureStore(RuleSettings.of(opts.rule_options(), _SIDES))
    for chunk in chunks:
        store.ingest((), chunk)
    c = store.columns(boilerplate=True)
    return Features(c.exact, c.sets, c.keys[opts.text_config], c.prow, c.phash, c.psets, c.pkeys[opts.prompt_config])


def features(conversations: Iterable[Sequence[Message]], opts: SplitOptions | None = None) -> Features:
    """Features of conversations (lists of canonical messages), computed in batches."""
    opts = opts or SplitOptions()
    records = (Record("", 0, "train", b"", messages=list(m) or None) for m in conversations)
    return collect((batch_features(batch, opts) for batch in iter(lambda: list(islice(records, _CHUNK)), [])), opts)


def similar_pairs(settings: SearchSettings, sets: ShingleSets, bands: np.ndarray) -> np.ndarray:
    """Verified pairs ``(i, j)`` of records with Jaccard >= the threshold."""
    return all_verified(candidates(settings, bands), sets, sets, settings.threshold)


def cross_pairs(
    settings: SearchSettings, sets: ShingleSets, bands: np.ndarray, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Verified pairs ``(i, j)``, ``i`` among records ``left`` and ``j`` among ``right`` (record numbers)."""
    found = (
        np.stack([left[q[:, 0]], right[q[:, 1]]], axis=1) for q in cross_candidates(settings, bands[left], bands[right])
    )
    return all_verified(found, sets, sets, settings.threshold)


def equal_links(keys: np.ndarray) -> np.ndarray:
    """Pairs of positions with equal keys (each to the next in key order)."""
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    return np.stack([order[:-1][same], order[1:][same]], axis=1)


def clusters(feats: Features, opts: SplitOptions) -> np.ndarray:
    """Cluster label of each record: components over equal and near texts and prompts."""
    text, prompt = search(opts.text_config), search(opts.prompt_config)
    edges = [
        equal_links(feats.digests),
        similar_pairs(text, feats.sets, feats.bands),
        feats.prompt_rows[equal_links(feats.prompt_digests)],
        feats.prompt_rows[similar_pairs(prompt, feats.prompt_sets, feats.prompt_bands)],
    ]
    return connected_components(len(feats), np.concatenate(edges))


def record_batch(records: list[Record], opts: SplitOptions) -> tuple[FeatureChunk, list[str]]:
    """Parse and featurize records read from a file: (features batch, records with no conversation)."""
    problems = []
    for rec in records:
        parse(rec)
        if rec.messages is None:
            problems.append(f"line {rec.line}: {rec.error or 'no message list'}")
    return batch_features(records, opts), problems


def read_features(
    path: str, fmt: str | None, opts: SplitOptions, jobs: int = 1, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Features:
    """Features of every record of a dataset file (``jobs`` worker processes); refuses records with no conversation."""
    records = read_file(FileInfo(path, "unsplit", ""), fmt, 0, max_record_bytes)
    batches = iter(lambda: list(islice(records, _CHUNK)), [])
    problems: list[str] = []

    def chunks():
        for chunk, batch_problems in ordered_map(partial(record_batch, opts=opts), batches, jobs):
            problems.extend(batch_problems)
            yield chunk

    feats = collect(chunks(), opts)
    refuse_unplaced(path, problems)
    return feats


def refuse_unplaced(path: str, problems: list[str]) -> None:
    """One error naming the records (``record_batch``'s problems) that have no conversation, if any."""
    if problems:
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise CurateError(
            f"{path}: {len(problems)} record(s) have no conversation and cannot be placed in a split "
            f"({'; '.join(problems[:5])}{more}); fix or remove them first "
            f"(`curate lint --select F001,F003,F004 {path}`)"
        )
