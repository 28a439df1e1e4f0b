"""`curate split`: a deterministic split that keeps every near-duplicate cluster inside one split.

1. Features, from the leak rules' own extractor (``curate.dedup``): a digest
   of each record's normalized conversation text, the hashes of its word
   3-gram shingles, and the same for its prompt where L003 compares one (the
   non-system turns before the final assistant message, with a user turn and
   at least ``min_words`` words).
2. Links: equal normalized texts, near-duplicates (conversation Jaccard >=
   0.7), equal prompts and near prompts (>= 0.9). Near pairs come from MinHash
   LSH banded for a lower threshold than the rules' (higher recall, see
   ``SplitOptions``) and are all verified exactly. Clusters are the connected
   components: unlike D002's reports they chain, since any chain of similar
   records that crosses a split boundary leaks.
3. Clusters, in an order shuffled with the seed, fill each held-out split
   (eval, test) up to ``round(ratio * records)``: first clusters of at most a
   tenth of that target, then any cluster that still fits. Everything else,
   big clusters included, goes to train.
4. Verification, since LSH is probabilistic and caps big buckets: the same
   four searches across splits (train against each held-out split). A
   held-out cluster with a match in train moves to train for good and its
   room is refilled; this repeats until nothing matches. ``split_file`` then
   lints the written files with L001-L003 and moves whatever they report, so
   the outputs linted together are clean by construction.

Records without a conversation (not JSON, not an object, no message list)
cannot be placed: ``split_file`` refuses them with their lines rather than
drop or misplace them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Iterable, Sequence

import numpy as np

from curate import dedup
from curate.atomic import atomic_writer, remove_stale
from curate.config import Config
from curate.engine import RuleContext, lint_paths
from curate.errors import CurateError
from curate.formats import FORMATS, OPENAI, detect, to_messages
from curate.locks import StableInputs
from curate.outputs import check_outputs
from curate.parse import parse
from curate.reader import DEFAULT_MAX_RECORD_BYTES, FileInfo, read_file
from curate.records import Message, Record
from curate.similarity import LSHIndex, MinHasher, ShingleSets, connected_components, verify_pairs

SPLIT_NAMES = ("train", "eval", "test")
LEAK_CODES = ("L001", "L002", "L003")
# Rounds of the verification that refill the held-out splits; later rounds only move.
REFILL_ROUNDS = 3
_CHUNK = 4096
# Splits that make the dedup extractor compute what the leak rules compare.
_SIDES = frozenset({"train", "eval"})
_SIGNATURE_BLOCK = 1 << 15
STAGING_PREFIX = ".curate-split-"


@dataclass(frozen=True)
class SplitOptions:
    """The leak rules' settings (L002 and L003 options), and the LSH banding the split searches with.

    The banding is tuned for a threshold ``lsh_margin`` below the rules' own,
    for recall: for 0.5 it finds 99% of the pairs at exactly 0.7 (the rules'
    banding, recall-weighted, 92%), for 0.7 it finds 99.9% of the prompt
    pairs at 0.9 (the rules' 80%). Every candidate is verified at the rules'
    thresholds, so the split links only truly similar records, and links
    more of them than a lint run can see.
    """

    threshold: float = 0.7
    num_perm: int = 128
    prompt_threshold: float = 0.9
    prompt_num_perm: int = 128
    min_words: int = 5
    lsh_margin: float = 0.2
    fanout: int = 4

    @classmethod
    def from_config(cls, config=None) -> SplitOptions:
        """The options of L002 and L003 as configured (defaults without a config)."""
        cfg = config or Config()
        near, prompt = cfg.options_for("L002"), cfg.options_for("L003")
        return cls(near["threshold"], near["num_perm"], prompt["threshold"], prompt["num_perm"], prompt["min_words"])

    def rule_options(self) -> dict:
        """Options for the ``dedup`` feature extractor: what L001-L003 compare."""
        return {"L001": {}, "L002": {"threshold": self.threshold, "num_perm": self.num_perm},
                "L003": {"threshold": self.prompt_threshold, "num_perm": self.prompt_num_perm,
                         "min_words": self.min_words}}

    def searches(self) -> tuple[tuple, tuple]:
        """(threshold, LSH threshold, num_perm) for conversations, then for prompts."""
        return ((self.threshold, max(0.05, self.threshold - self.lsh_margin), self.num_perm),
                (self.prompt_threshold, max(0.05, self.prompt_threshold - self.lsh_margin), self.prompt_num_perm))


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


# --------------------------------------------------------------------------
# Features


@dataclass
class Features:
    """Per-record similarity features; prompts only for the records whose prompt L003 compares."""

    keys: np.ndarray  # uint64 digest of the normalized conversation text
    sets: ShingleSets
    prompt_rows: np.ndarray  # int64 record indices with a prompt
    prompt_keys: np.ndarray
    prompt_sets: ShingleSets

    def __len__(self) -> int:
        return len(self.keys)


def _sets(values: np.ndarray | None, sizes: np.ndarray | None) -> ShingleSets:
    if values is None:
        return ShingleSets.concat([])
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return ShingleSets(values, offsets)


def _batch(records: Sequence[Record], opts: SplitOptions) -> tuple:
    """Features of one batch of parsed records, from the leak rules' own extractor (``curate.dedup``).

    Returns (text digests, shingle sets, prompt rows within the batch, prompt digests, prompt shingle sets).
    """
    chunk = dedup.extract(records, RuleContext(opts.rule_options(), splits=_SIDES))
    prows = np.empty(0, np.int64) if chunk.prow is None else chunk.prow.astype(np.int64)
    phash = np.empty(0, np.uint64) if chunk.phash is None else chunk.phash
    return chunk.exact, _sets(chunk.shingles, chunk.sizes), prows, phash, _sets(chunk.pshingles, chunk.psizes)


def _join(parts: list[tuple]) -> Features:
    bases = np.cumsum([0] + [len(p[0]) for p in parts])
    empty = np.empty(0, np.uint64)
    return Features(np.concatenate([p[0] for p in parts] or [empty]), ShingleSets.concat([p[1] for p in parts]),
                    np.concatenate([p[2] + base for p, base in zip(parts, bases)] or [np.empty(0, np.int64)]),
                    np.concatenate([p[3] for p in parts] or [empty]), ShingleSets.concat([p[4] for p in parts]))


def features(conversations: Iterable[Sequence[Message]], opts: SplitOptions | None = None) -> Features:
    """Features of conversations (lists of canonical messages), computed in batches."""
    opts = opts or SplitOptions()
    records = (Record("", 0, "train", b"", messages=list(m) or None) for m in conversations)
    return _join([_batch(batch, opts) for batch in iter(lambda: list(islice(records, _CHUNK)), [])])


def _take(sets: ShingleSets, rows: np.ndarray) -> ShingleSets:
    """Records ``rows`` of ``sets`` as a new ``ShingleSets``."""
    starts = sets.offsets[rows]
    lengths = sets.offsets[rows + 1] - starts
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    return ShingleSets(sets.values[index], offsets)


def _index(sets: ShingleSets, lsh_threshold: float, num_perm: int, fanout: int) -> LSHIndex:
    index = LSHIndex(lsh_threshold, num_perm, fanout)
    hasher = MinHasher(num_perm)
    for lo in range(0, len(sets), _SIGNATURE_BLOCK):
        index.add(hasher.signatures(sets.slice(lo, min(lo + _SIGNATURE_BLOCK, len(sets)))))
    return index


def similar_pairs(sets: ShingleSets, search: tuple, fanout: int) -> np.ndarray:
    """Verified pairs ``(i, j)``: Jaccard >= threshold, candidates from LSH banded for the lower LSH threshold."""
    threshold, lsh_threshold, num_perm = search
    candidates = _index(sets, lsh_threshold, num_perm, fanout).candidate_pairs()
    return verify_pairs(sets, sets, candidates, threshold)[0]


def cross_pairs(left: ShingleSets, right: ShingleSets, search: tuple, fanout: int) -> np.ndarray:
    """Verified pairs ``(i_left, j_right)`` across two record sets, as ``similar_pairs``."""
    threshold, lsh_threshold, num_perm = search
    index = _index(left, lsh_threshold, num_perm, fanout)
    candidates = index.cross_candidates(_index(right, lsh_threshold, num_perm, fanout))
    return verify_pairs(left, right, candidates, threshold)[0]


def _equal_links(keys: np.ndarray) -> np.ndarray:
    """Pairs of positions with equal keys (each to the next in key order)."""
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    return np.stack([order[:-1][same], order[1:][same]], axis=1)


def clusters(feats: Features, opts: SplitOptions) -> np.ndarray:
    """Cluster label of each record: components over equal and near texts and prompts."""
    texts, prompts = opts.searches()
    edges = [
        _equal_links(feats.keys),
        similar_pairs(feats.sets, texts, opts.fanout),
        feats.prompt_rows[_equal_links(feats.prompt_keys)],
        feats.prompt_rows[similar_pairs(feats.prompt_sets, prompts, opts.fanout)],
    ]
    return connected_components(len(feats), np.concatenate(edges))


# --------------------------------------------------------------------------
# Assignment and verification


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

    feats: Features
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
        return SPLIT_NAMES[: len(self.ratios)]

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
        texts, prompts = opts.searches()
        splits = self.record_splits()
        prompt_splits = splits[feats.prompt_rows]
        train, p_train = np.flatnonzero(splits == 0), np.flatnonzero(prompt_splits == 0)
        train_sets, p_train_sets = _take(feats.sets, train), _take(feats.prompt_sets, p_train)
        out = []
        for h in range(1, len(self.ratios)):
            held, p_held = np.flatnonzero(splits == h), np.flatnonzero(prompt_splits == h)
            if not len(held):
                continue
            out.append(held[np.isin(feats.keys[held], feats.keys[train])])
            found = cross_pairs(train_sets, _take(feats.sets, held), texts, opts.fanout)
            out.append(held[found[:, 1]])
            out.append(feats.prompt_rows[p_held[np.isin(feats.prompt_keys[p_held], feats.prompt_keys[p_train])]])
            found = cross_pairs(p_train_sets, _take(feats.prompt_sets, p_held), prompts, opts.fanout)
            out.append(feats.prompt_rows[p_held[found[:, 1]]])
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


def _conversation(item) -> Sequence[Message]:
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


def split_records(records_or_path, ratios: Sequence[float], seed: int = 0,
                  opts: SplitOptions | None = None) -> list[list[int]]:
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
        feats = features((_conversation(item) for item in records_or_path), opts)
    return [idx.tolist() for idx in plan_split(feats, ratios, seed, opts).indices()]


# --------------------------------------------------------------------------
# Files


def _record_batch(records: list[Record], opts: SplitOptions) -> tuple[tuple, list[str]]:
    """Parse and featurize records read from a file: (features batch, records with no conversation)."""
    problems = []
    for rec in records:
        parse(rec)
        if rec.messages is None:
            problems.append(f"line {rec.line}: {rec.error or 'no message list'}")
    return _batch(records, opts), problems


def _ordered_map(fn, items, jobs: int):
    """``map(fn, items)`` in order, across ``jobs`` processes with a bounded number of items in flight."""
    if jobs <= 1:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(jobs) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def read_features(path: str, fmt: str | None, opts: SplitOptions, jobs: int = 1,
                  max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Features:
    """Features of every record of a dataset file (``jobs`` worker processes); refuses records with no conversation."""
    records = read_file(FileInfo(path, "unsplit", ""), fmt, 0, max_record_bytes)
    batches = iter(lambda: list(islice(records, _CHUNK)), [])
    done = list(_ordered_map(partial(_record_batch, opts=opts), batches, jobs))
    problems = [p for _, batch_problems in done for p in batch_problems]
    if problems:
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise CurateError(f"{path}: {len(problems)} record(s) have no conversation and cannot be placed in a split "
                          f"({'; '.join(problems[:5])}{more}); fix or remove them first "
                          f"(`curate lint --select F001,F003,F004 {path}`)")
    return _join([part for part, _ in done])


def _one_line(raw: bytes) -> bytes:
    """A JSON array element on one line: raw newlines can only be whitespace between tokens."""
    return raw.replace(b"\r\n", b" ").replace(b"\n", b" ").replace(b"\r", b" ")


@dataclass
class SplitReport:
    """What ``split_file`` did."""

    path: str
    plan: SplitPlan
    outputs: list[str]
    lint_moved: int = 0
    stale: list[str] = field(default_factory=list)

    def describe(self) -> str:
        plan = self.plan
        n = len(plan.labels)
        lines = [f"Split {self.path}: {n} records in {len(plan.sizes)} clusters "
                 f"(largest {int(plan.sizes.max(initial=0))} records), seed {plan.seed}."]
        for name, out, idx, target in zip(plan.names, self.outputs, plan.indices(), plan.targets):
            share = len(idx) / n if n else 0.0
            lines.append(f"  {out}: {len(idx)} records ({share:.1%}, target {target})")
        lines.append(f"Verification moved {plan.moved_clusters} held-out clusters ({plan.moved_records} records) "
                     f"to train, {self.lint_moved} of them on the lint of the outputs; "
                     f"{', '.join(LEAK_CODES)} on the outputs: clean.")
        for name, idx, target in zip(plan.names[1:], plan.indices()[1:], plan.targets[1:]):
            if len(idx) < target / 2:
                lines.append(f"warning: {name} has {len(idx)} of its {target} target records: the rest of the data "
                             f"forms clusters too big to hold out")
        lines += [f"warning: {p} is from an earlier split and was left as is" for p in self.stale]
        return "\n".join(lines)


def _lint_leaks(paths: list[str], plan: SplitPlan, config, jobs: int) -> np.ndarray:
    """Clusters of held-out records that L001-L003 report on the written files."""
    cfg = Config(select=list(LEAK_CODES), rules=config.rules, format=config.format)
    result = lint_paths(paths, cfg, dict(zip(paths, plan.names)), (), jobs)
    held = {p: idx for p, idx in zip(paths[1:], plan.indices()[1:])}
    bad = [held[loc[0]][loc[1] - 1] for d in result.diagnostics
           for loc in ((d.path, d.line), *d.related) if loc[0] in held and 0 < loc[1] <= len(held[loc[0]])]
    return plan.labels[np.asarray(bad, dtype=np.int64)]


def split_file(path: str, output_dir: str, ratios: Sequence[float], seed: int = 0, config: Config | None = None,
               jobs: int = 1) -> SplitReport:
    """Split a dataset file into ``output_dir``; the outputs replace any earlier ones only when complete.

    ``config`` gives the record format and the L002/L003 options (thresholds, ``num_perm``, ``min_words``).
    The input is locked (shared) for the run and must not change while it is read: if its size, times or
    bytes differ at the end, nothing is written.
    """
    config = config or Config()
    if not os.path.lexists(path):
        raise CurateError(f"{path}: no such file")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise CurateError(f"{output_dir}: exists and is not a directory")
    outputs = [os.path.join(output_dir, f"{name}.jsonl") for name in SPLIT_NAMES[:len(ratios)]]
    check_outputs([path], [("output", p) for p in outputs])
    with StableInputs([path], exclusive=False) as held:
        return _split_held(path, output_dir, outputs, ratios, seed, config, jobs, held)


def _split_held(path, output_dir, outputs, ratios, seed, config, jobs, held) -> SplitReport:
    fmt = config.format
    opts = SplitOptions.from_config(config)
    plan = plan_split(read_features(path, fmt, opts, jobs, config.max_record_bytes), ratios, seed, opts)
    try:
        os.makedirs(output_dir, exist_ok=True)
        remove_stale(os.path.join(output_dir, STAGING_PREFIX + "*"))  # left by killed runs
        staging = tempfile.mkdtemp(dir=output_dir, prefix=STAGING_PREFIX)
    except OSError as exc:
        raise CurateError(f"{output_dir}: cannot write: {exc.strerror or exc}") from None
    lock = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # marks the folder as live for other runs' cleanup
        staged = [os.path.join(staging, os.path.basename(p)) for p in outputs]
        lint_moved = 0
        while True:
            _write(path, fmt, plan.record_splits(), staged, config.max_record_bytes)
            moved = plan.move_to_train(_lint_leaks(staged, plan, config, jobs))
            if not moved:
                break
            lint_moved += moved
            plan.settle()
        held.check_unchanged()
        for src, dst in zip(staged, outputs):
            os.replace(src, dst)
    finally:
        os.close(lock)
        shutil.rmtree(staging, ignore_errors=True)
    stale = [os.path.join(output_dir, f"{n}.jsonl") for n in SPLIT_NAMES[len(ratios):]]
    return SplitReport(path, plan, outputs, lint_moved, [p for p in stale if os.path.exists(p)])


def _write(path: str, fmt: str | None, splits: np.ndarray, outputs: list[str], max_record_bytes: int) -> None:
    """Each record's bytes, unchanged (JSON array elements joined onto one line), to its split's file."""
    with ExitStack() as stack:
        files = [stack.enter_context(atomic_writer(p, "wb")) for p in outputs]
        for rec in read_file(FileInfo(path, "unsplit", ""), fmt, 0, max_record_bytes):
            if rec.index >= len(splits):
                raise CurateError(f"{path} changed while curate was reading it (it has more records than on the "
                                  f"first read); nothing was written: run again")
            raw = rec.raw if b"\n" not in rec.raw and b"\r" not in rec.raw else _one_line(rec.raw)
            files[splits[rec.index]].write(raw + b"\n")

