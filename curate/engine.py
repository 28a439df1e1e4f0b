"""The lint engine: one streaming pass feeds record rules and gathers dataset-rule features."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, islice

import numpy as np

from curate.config import Config
from curate.diagnostics import Diagnostic, Finding, Summary, at_or_above
from curate.discovery import discover
from curate.parallel import ordered_map
from curate.parse import parse
from curate.reader import FileInfo, read_file
from curate.records import Record, RecordRef
from curate.registry import FEATURES, Rule, load_rules
from curate.scan import Scanner
from curate.split_names import resolve_split

CHUNK = 1000


@dataclass
class RuleContext:
    """What a rule sees besides the records: its options, the tokenizer, the record table.

    `splits` holds the split of every input file of the run (so a feature
    extractor can skip work for leak rules when no eval, test or reference
    file is present).
    """

    options: dict
    tokenizer: object = None
    table: RecordTable | None = None
    shared: dict = field(default_factory=dict)
    splits: frozenset = frozenset()

    def shared_value(self, key: str, factory):
        """One object shared by every dataset rule of a run (e.g. the similarity index)."""
        if key not in self.shared:
            self.shared[key] = factory()
        return self.shared[key]


class RecordTable:
    """Path, line, split and content digest of every record, by record index, in compact numpy columns.

    A million records take about 17 MB (no Python object per record); ``splits[i]`` is record ``i``'s split name.
    """

    def __init__(self):
        from curate.crossrecord.column import Column

        self.paths: list[str] = []
        self._path_ids: dict[str, int] = {}
        self._split_names: list[str] = []
        self._split_ids: dict[str, int] = {}
        self._cols = {
            "path": Column(np.int32),
            "line": Column(np.int32),
            "split": Column(np.int8),
            "digest": Column(np.uint64),
        }
        self.splits = _SplitNames(self)

    def add(self, refs: list[RecordRef], digests: Sequence[int]) -> None:
        paths, splits = [], []
        for r in refs:
            pid = self._path_ids.setdefault(r.path, len(self.paths))
            if pid == len(self.paths):
                self.paths.append(r.path)
            sid = self._split_ids.setdefault(r.split, len(self._split_names))
            if sid == len(self._split_names):
                self._split_names.append(r.split)
            paths.append(pid)
            splits.append(sid)
        self._cols["path"].extend(paths)
        self._cols["line"].extend([r.line for r in refs])
        self._cols["split"].extend(splits)
        self._cols["digest"].extend(np.asarray(digests, dtype=np.uint64))

    def __len__(self):
        return len(self._cols["split"].data)

    def location(self, index: int):
        from curate.diagnostics import Location

        return Location(self.paths[self._cols["path"].data[index]], self._cols["line"].data[index])

    def digest(self, index: int) -> int:
        return int(self._cols["digest"].view()[index])

    def split(self, index: int) -> str:
        return self._split_names[self._cols["split"].data[index]]

    def digests_at(self, locations: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The digest of the record at each ``(path, line)`` found in the table (one vectorized lookup)."""
        wanted = [(self._path_ids[p], line, (p, line)) for p, line in locations if p in self._path_ids]
        if not wanted:
            return {}
        keys = (self._cols["path"].view().astype(np.int64) << 32) | self._cols["line"].view().astype(np.int64)
        targets = np.array([(pid << 32) | line for pid, line, _ in wanted], dtype=np.int64)
        rows = np.flatnonzero(np.isin(keys, targets))
        found = dict(zip(keys[rows].tolist(), self._cols["digest"].view()[rows].tolist()))
        return {loc: found[(pid << 32) | line] for pid, line, loc in wanted if (pid << 32) | line in found}


class _SplitNames:
    """``table.splits[i]``: record ``i``'s split name, without a list of a million strings."""

    def __init__(self, table: RecordTable):
        self._table = table

    def __getitem__(self, index: int) -> str:
        return self._table.split(index)

    def __len__(self) -> int:
        return len(self._table)


@dataclass
class Plan:
    """Picklable instructions for processing a chunk: which rules, options, features."""

    record_rules: list[str]
    options: dict
    severity: dict
    features: list[str]
    tokenizer: str | None = None
    splits: Sequence[str] = ()


def record_digest(raw: bytes) -> int:
    """64-bit content digest of a record's line: baseline fingerprints key on it."""
    return int.from_bytes(hashlib.blake2b(raw.strip(), digest_size=8).digest(), "little")


_TOKENIZERS: dict = {}


def _tokenizer(name: str | None):
    if name is None:
        return None
    if name not in _TOKENIZERS:
        from curate.tokens import load_tokenizer

        _TOKENIZERS[name] = load_tokenizer(name)
    return _TOKENIZERS[name]


def _stage(rec: Record) -> tuple[str, ...]:
    """Which record rules a record gets, by their `requires`: none for reference records."""
    if rec.split == "reference":
        return ()
    if rec.error is not None:
        return ("line",)
    return ("line", "json") if rec.messages is None else ("line", "json", "conversation")


def _rules_by_stage(plan: Plan, tokenizer) -> tuple[dict[tuple[str, ...], list], Scanner]:
    """(rule, impl, context, triggered) of every planned record rule for each `_stage` result, in plan order,
    and the scanner of the triggers (see curate/scan.py)."""
    rules = load_rules()
    planned = [(rules[code], RuleContext(plan.options.get(code, {}), tokenizer)) for code in plan.record_rules]
    stages = [(), ("line",), ("line", "json"), ("line", "json", "conversation")]
    by_stage = {
        stage: [
            (rule, rule.impl, ctx, rule.trigger is not None)
            for s in stage
            for rule, ctx in planned
            if rule.requires == s
        ]
        for stage in stages
    }
    return by_stage, Scanner({rule.code: rule.trigger for rule, _ in planned if rule.trigger is not None})


def process_chunk(records: list[Record], plan: Plan):
    """Parse records, run record rules, extract features: (diagnostics, refs, digests, features).

    A conversation is scanned once for the triggers of every planned rule; a rule with a
    trigger runs only on the records where it fires.
    """
    tokenizer = _tokenizer(plan.tokenizer)
    by_stage, scanner = _rules_by_stage(plan, tokenizer)
    scanning = bool(scanner.codes)
    severity = plan.severity
    out: list[Diagnostic] = []
    digests = []
    for rec in records:
        parse(rec)
        digest = record_digest(rec.raw)
        digests.append(digest)
        stage = _stage(rec)
        fired = scanner.fired(rec) if scanning and len(stage) == 3 else None
        for rule, impl, ctx, triggered in by_stage[stage]:
            if triggered and fired is not None and rule.code not in fired:
                continue
            for f in impl(rec, ctx) or ():
                d = _diagnostic(rule, severity, f, rec.path, rec.line)
                d.fingerprint = fingerprint(d, digest)
                out.append(d)
    feature_ctx = RuleContext(plan.options, tokenizer, splits=frozenset(plan.splits))
    feats = {name: FEATURES[name](records, feature_ctx) for name in plan.features}
    return out, [r.ref for r in records], digests, feats


def _diagnostic(rule: Rule, severity: dict, f: Finding, path: str, line: int) -> Diagnostic:
    return Diagnostic(
        rule.code,
        rule.name,
        severity.get(rule.code) or f.severity or rule.severity,
        f.message,
        f.path or path,
        f.line or line,
        f.pointer,
        tuple(f.related),
        record=f.record,
    )


@dataclass
class LintResult:
    """Everything one lint run found."""

    diagnostics: list[Diagnostic]
    files: list[FileInfo]
    config: Config
    codes: list[str]

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def summary(self) -> Summary:
        return Summary.of(self.diagnostics, self.records, len(self.files))

    def count_at_or_above(self, severity: str) -> int:
        return sum(at_or_above(d.severity, severity) for d in self.diagnostics)

    def passed(self, fail_on: str | None = None) -> bool:
        return self.count_at_or_above(fail_on or self.config.fail_on) == 0


def _chunks(it: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(it, size)):
        yield chunk


PROTECTED_SPLITS = ("eval", "test", "reference")


def _stream(files: list[FileInfo], fmt: str | None, max_record_bytes: int) -> Iterator[Record]:
    """Every record, protected splits (eval, test, reference) first, each in command-line order.

    Leak rules can then test each train record as it arrives against the
    complete protected set; output order does not depend on it (diagnostics
    are sorted by file order at the end).
    """
    index = 0
    for info in stream_order(files):
        for rec in read_file(info, fmt, index, max_record_bytes, report_oversize=True):
            index += 1
            yield rec


def stream_order(files: list[FileInfo]) -> list[FileInfo]:
    """Files in the order their records are numbered: protected splits first, each in command-line order."""
    return sorted(files, key=lambda f: f.split not in PROTECTED_SPLITS)


def fingerprint(d: Diagnostic, digest: int) -> str:
    """Baseline key: rule, record content and pointer, not the line number."""
    return hashlib.sha256(f"{d.code}\0{digest:016x}\0{d.pointer or ''}".encode()).hexdigest()[:20]


def _fingerprint_dataset_findings(diagnostics: list[Diagnostic], table: RecordTable) -> None:
    wanted = {(d.path, d.line) for d in diagnostics if not d.fingerprint}
    if not wanted:
        return
    digests = table.digests_at(wanted)
    for d in diagnostics:
        if not d.fingerprint:
            d.fingerprint = fingerprint(d, digests.get((d.path, d.line), 0))


def lint_paths(
    paths: list[str],
    config: Config | None = None,
    splits: dict[str, str] | None = None,
    references: Iterable[str] = (),
    jobs: int = 1,
    progress=None,
    tokenizer: str | None = None,
    sources: dict[str, str] | None = None,
    processed=None,
) -> LintResult:
    """Lint files and directories; `splits` maps a path to its split (--split NAME=PATH).

    `sources` maps a file path to the file its bytes are read from (a private snapshot);
    findings still name the path. `processed(files, config, plan, shared)`, when given, reads and processes
    the records elsewhere (curate.rayengine.lint) and yields `process_chunk`'s results in record order;
    `shared` holds the dataset rules' shared values (it may replace cross-record matchers).
    """
    config = config or Config()
    rules = load_rules()
    codes = config.selected()
    overrides = dict(splits or {})
    refs = list(references)
    files = [
        FileInfo(f.path, resolve_split(f.path, overrides, config, f.split), "") for f in discover(list(paths), config)
    ]
    files += [FileInfo(f.path, "reference", "") for f in discover(refs, config)]
    for info in files:
        info.source = (sources or {}).get(info.path)
    tokenizer = tokenizer or config.tokenizer

    record_codes = [c for c in codes if rules[c].kind == "record"]
    dataset_codes = [c for c in codes if rules[c].kind == "dataset"]
    table = RecordTable()
    shared: dict = {}
    split_set = frozenset(f.split for f in files)
    dataset_rules = {
        c: rules[c].impl(RuleContext(config.options_for(c), None, table, shared, split_set)) for c in dataset_codes
    }
    plan = Plan(
        record_codes,
        {c: config.options_for(c) for c in codes},
        dict(config.severity),
        sorted({f for c in dataset_codes for f in rules[c].features}),
        tokenizer,
        sorted(split_set),
    )
    # validate the tokenizer here so a bad name is one clear error, not one per worker
    _tokenizer(tokenizer)

    diagnostics: list[Diagnostic] = []
    if processed is None:
        chunks = _chunks(_stream(files, config.format, config.max_record_bytes), CHUNK)
        if progress is not None:
            chunks = progress(chunks, files)
        processed_chunks = _map(chunks, plan, jobs)
    else:
        processed_chunks = processed(files, config, plan, shared)
    for diags, chunk_refs, digests, feats in processed_chunks:
        diagnostics += diags
        table.add(chunk_refs, digests)
        for code, rule in dataset_rules.items():
            rule.collect(chunk_refs, {name: feats[name] for name in rules[code].features})
    for code, rule in dataset_rules.items():
        for f in rule.finish() or ():
            diagnostics.append(_diagnostic(rules[code], config.severity, f, f.path, f.line))

    diagnostics = _apply_file_ignores(diagnostics, config, files)
    _fingerprint_dataset_findings(diagnostics, table)
    order = {f.path: i for i, f in enumerate(files)}
    diagnostics.sort(key=lambda d: d.sort_key(order))
    return LintResult(diagnostics, files, config, codes)


def _apply_file_ignores(diagnostics: list[Diagnostic], config: Config, files: list[FileInfo]) -> list[Diagnostic]:
    if not config.per_file_ignores:
        return diagnostics
    ignored = {f.path: config.ignored_in(f.path) for f in files}
    return [d for d in diagnostics if d.code not in ignored.get(d.path, ())]


def _map(chunks: Iterator[list[Record]], plan: Plan, jobs: int):
    """process_chunk over chunks in order: in this process, or across `jobs` worker processes.

    Input of one chunk stays in this process (starting workers costs more than it saves); at most
    2 * jobs chunks are in flight, so memory stays bounded whatever the input size.
    """
    chunks = iter(chunks)
    head = list(islice(chunks, 2))
    workers = jobs if len(head) == 2 else 1
    yield from ordered_map(partial(process_chunk, plan=plan), chain(head, chunks), workers)
