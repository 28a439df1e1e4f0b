"""Where each near-duplicate cluster of `curate split` goes: a deterministic, leak-free plan.

1. Links: equal normalized texts, near-duplicates (conversation Jaccard >=
   0.7), equal prompts and near prompts (>= 0.9), from ``features``'s
   searches; clusters are the connected components: unlike D002's reports
   they chain, since any chain of similar records that crosses a split
   boundary leaks.
2. Clusters, in an order shuffled with the seed, fill each held-out split
   (eval, test) up to ``round(ratio * records)``: first clusters of at most a
   tenth of that target, then any cluster that still fits. Everything else,
   big clusters included, goes to train.
3. Verification, since LSH is probabilistic and caps big buckets: the same
   four searches across splits (train against each held-out split). A
   held-out cluster with a match in train moves to train for good and its
   room is refilled; this repeats until nothing matches. ``split_file``
   then lints the written files with L001-L003 and moves whatever they
   report, so the outputs linted together are clean by construction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from curate.crossrecord.settings import search
from curate.errors import CurateError
from curate.formats import FORMATS, OPENAI, detect, to_messages
from curate.parse import parse
from curate.records import Message, Record
from curate.split_names import OUTPUT_SPLITS
from curate.splitting.features import (
    Features,
    SplitOptions,
    clusters,
    cross_pairs,
    features,
    read_features,
)

# Rounds of the verification that refill the held-out splits; later rounds only move.
REFILL_ROUNDS = 3


def parse_ratios(text: str) -> tuple[float, ...]:
    """``"0.9,0.1"`` -> ``(0.9, 0.1)``: two or three positive ratios summing to 1."""
    try:
        ratios = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise CurateError(f"--ratios {text!r}: expected comma-separated numbers such as 0.9,0.1") from None
    if len(ratios) not in (2, 3):
        raise CurateError(f"--ratios {text!r}: give two (train,eval) or three (train,eval,test) ratios")
    if any(not 0 < r < 1 for r in ratios):
        raise CurateError(f"--ratios {text!r}: every ratio must be between 0 and 1")
    if abs(sum(ratios) - 1) > 1e-6:
        raise CurateError(f"--ratios {text!r}: the ratios sum to {sum(ratios):g}, not 1")
    return ratios


def targets(n: int, ratios: Sequence[float]) -> list[int]:
    """Records per split: each held-out split ``round(ratio * n)``, at least 1 where ``n`` allows; train the rest.

    Train keeps at least one record.
    """
    held = [int(r * n + 0.5) for r in ratios[1:]]
    if n >= len(ratios):
        held = [max(1, h) for h in held]
    while sum(held) > max(n - 1, 0):
        held[held.index(max(held))] -= 1
    return [n - sum(held), *held]


@dataclass
class SplitPlan:
    """Which split each cluster goes to; ``settle`` makes it leak-free."""

    feats: Features | None  # None while the final lint runs (``split_file``); ``settle`` needs them
    labels: np.ndarray
    ratios: tuple
    seed: int
    opts: SplitOptions = field(default_factory=SplitOptions)
    moved_clusters: int = 0
    moved_records: int = 0
    rounds: int = 0

    def __post_init__(self):
        self.sizes = np.bincount(self.labels)
        self.order = np.random.default_rng(self.seed).permutation(len(self.sizes))
        self.cluster_split = np.zeros(len(self.sizes), dtype=np.int8)
        self.pinned = np.zeros(len(self.sizes), dtype=bool)
        self.targets = targets(len(self.labels), self.ratios)
        self.fill()

    @property
    def names(self) -> tuple[str, ...]:
        return OUTPUT_SPLITS[: len(self.ratios)]

    def record_splits(self) -> np.ndarray:
        return self.cluster_split[self.labels]

    def indices(self) -> list[np.ndarray]:
        """Record indices of each split, in input order."""
        splits = self.record_splits()
        return [np.flatnonzero(splits == s) for s in range(len(self.ratios))]

    def fill(self) -> None:
        """Put unpinned train clusters, in shuffled order, into held-out splits with room for them."""
        held = range(1, len(self.ratios))
        counts = np.bincount(self.record_splits(), minlength=len(self.ratios)).tolist()
        room = [self.targets[h] - counts[h] for h in held]
        caps = [max(1, self.targets[h] // 10) for h in held]
        sizes, split, pinned = self.sizes.tolist(), self.cluster_split.tolist(), self.pinned.tolist()
        for capped in (True, False):
            for c in self.order.tolist():
                if max(room) <= 0:
                    break
                s = sizes[c]
                if split[c] or pinned[c]:
                    continue
                best = -1
                for k, r in enumerate(room):
                    if s <= r and (not capped or s <= caps[k]) and (best < 0 or r > room[best]):
                        best = k
                if best >= 0:
                    split[c] = best + 1
                    room[best] -= s
        self.cluster_split[:] = split

    def move_to_train(self, cluster_ids) -> int:
        """Move held-out clusters to train for good; how many moved."""
        ids = np.unique(np.asarray(cluster_ids, dtype=np.int64))
        ids = ids[self.cluster_split[ids] != 0]
        self.cluster_split[ids] = 0
        self.pinned[ids] = True
        self.moved_clusters += len(ids)
        self.moved_records += int(self.sizes[ids].sum())
        return len(ids)

    def leaking_records(self) -> np.ndarray:
        """Held-out records with an equal or near text or prompt in train."""
        feats, opts = self.feats, self.opts
        assert feats is not None, "the plan's features were released"
        text, prompt = search(opts.text_config), search(opts.prompt_config)
        splits = self.record_splits()
        prompt_splits = splits[feats.prompt_rows]
        train, p_train = np.flatnonzero(splits == 0), np.flatnonzero(prompt_splits == 0)
        out = []
        for h in range(1, len(self.ratios)):
            held, p_held = np.flatnonzero(splits == h), np.flatnonzero(prompt_splits == h)
            if not len(held):
                continue
            out.append(held[np.isin(feats.digests[held], feats.digests[train])])
            out.append(cross_pairs(text, feats.sets, feats.bands, train, held)[:, 1])
            out.append(feats.prompt_rows[p_held[np.isin(feats.prompt_digests[p_held], feats.prompt_digests[p_train])]])
            found = cross_pairs(prompt, feats.prompt_sets, feats.prompt_bands, p_train, p_held)
            out.append(feats.prompt_rows[found[:, 1]])
        return np.concatenate(out) if out else np.empty(0, np.int64)

    def settle(self) -> None:
        """Move leaking held-out clusters to train (refilling their room) until none leaks."""
        while self.move_to_train(self.labels[self.leaking_records()]):
            self.rounds += 1
            if self.rounds <= REFILL_ROUNDS:
                self.fill()


def plan_split(feats: Features, ratios: Sequence[float], seed: int, opts: SplitOptions | None = None) -> SplitPlan:
    """Cluster, assign and verify: a leak-free plan."""
    opts = opts or SplitOptions()
    plan = SplitPlan(feats, clusters(feats, opts), tuple(ratios), seed, opts)
    plan.settle()
    return plan


def conversation(item) -> Sequence[Message]:
    """Canonical messages of a Record, an object with ``.messages``, a record dict or a message list."""
    if isinstance(item, Record):
        if item.data is None and item.error is None:
            parse(item)
        return item.messages or []
    if isinstance(item, dict):
        return to_messages(item, FORMATS[detect(item) or "openai"]) or []
    return [_message(m) for m in getattr(item, "messages", item) or ()]


def _message(m) -> Message:
    if isinstance(m, Message):
        return m
    if not isinstance(m, dict):
        return Message("", None, "")
    return Message(OPENAI.map_role(m.get("role"))[0], m.get("content"), "")


def split_records(
    records_or_path, ratios: Sequence[float], seed: int = 0, opts: SplitOptions | None = None
) -> list[list[int]]:
    """Record indices (0-based, input order) of train, eval (and test): the split ``curate split`` makes.

    ``records_or_path`` is a dataset file, or a sequence of records: ``Record``
    objects, objects with a ``messages`` list (canonical ``Message`` objects or
    ``{"role", "content"}`` dicts), record dicts in any supported format, or
    message lists. Without the final lint of ``split_file``, the guarantee is
    that of the verification search (see the module documentation).
    """
    opts = opts or SplitOptions()
    if isinstance(records_or_path, (str, os.PathLike)):
        feats = read_features(os.fspath(records_or_path), None, opts)
    else:
        feats = features((conversation(item) for item in records_or_path), opts)
    return [idx.tolist() for idx in plan_split(feats, ratios, seed, opts).indices()]
