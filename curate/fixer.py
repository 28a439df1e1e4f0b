"""`curate fix`: edit datasets with fixes; every removed record goes to a rejects file.

A fix is a text edit (see curate/edits.py): only the bytes of the values it fixes change,
and removing a record deletes exactly its bytes (a JSON line with its line ending, an array
element with one separating comma). Every other byte of the file stays as it was.
"""

from __future__ import annotations

import base64
import difflib
import gzip
import hashlib
import io
import json
import os
from dataclasses import dataclass, field

from curate.atomic import atomic_writer
from curate.config import Config
from curate.discovery import expand_paths
from curate.edits import NotEditable, copy_with, edit_record, element_removals
from curate.engine import lint_paths, stream_order
from curate.errors import CurateError
from curate.filetype import check_rewritable
from curate.formats import FORMATS
from curate.parquet_fix import fix_parquet, is_parquet
from curate.parse import parse
from curate.reader import FileInfo, open_decoded, read_file
from curate.registry import load_rules
from curate.rejects import RejectsFile


@dataclass
class FixReport:
    """What a fix run did; kept + removed always equals the records read."""

    read: int = 0
    kept: int = 0
    changed: int = 0
    removed: int = 0
    by_code: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    rejects: str | None = None
    not_fixed: list = field(default_factory=list)  # "path:line: not fixed: reason"
    diff: str | None = None  # --diff: the unified diff of what would change
    rejects_note: str = ""

    def describe(self) -> str:
        fixes = ", ".join(f"{c}: {n}" for c, n in sorted(self.by_code.items())) or "none"
        if self.diff is not None:
            return (
                f"Read {self.read} records: would keep {self.kept} ({self.changed} changed), "
                f"remove {self.removed}.\nFixes that would apply: {fixes}. Nothing written (--diff)."
            )
        lines = [
            f"Read {self.read} records: kept {self.kept} ({self.changed} changed), removed {self.removed}.",
            f"Fixes applied: {fixes}.",
        ]
        lines += [f"Wrote {p}" for p in self.outputs]
        if self.removed:
            lines.append(f"Removed records are in {self.rejects}{self.rejects_note}")
        return "\n".join(lines)


@dataclass
class _Plan:
    """What to do to each record: edits from `editors`, removals by record index."""

    fmt: str | None
    editors: list
    max_record_bytes: int
    to_remove: dict = field(default_factory=dict)  # record index -> diagnostics that remove it
    first_index: dict = field(default_factory=dict)  # path -> index of its first record in the lint run
    split_of: dict = field(default_factory=dict)
    sha256: dict = field(default_factory=dict)  # path -> hash of the bytes the lint read
    seen: set = field(default_factory=set)  # (split group, digest) of records whose bytes are not clean UTF-8
    earlier: set | None = None  # instead of `seen`, when known beforehand: indices of records whose key came earlier

    def seen_before(self, index: int, key: tuple) -> bool:
        """Whether an earlier record (in fix order) has the suspect record's `key`."""
        if self.earlier is not None:
            return index in self.earlier
        found = key in self.seen
        self.seen.add(key)
        return found


def default_rejects(output: str) -> str:
    base = output[:-3] if output.endswith(".gz") else output
    stem = os.path.splitext(base)[0]
    return f"{stem}.rejects.jsonl"  # always JSONL entries, and a name directory discovery skips


def fix_paths(
    paths: list[str],
    config: Config,
    splits: dict,
    references,
    unsafe: bool,
    output: str | None,
    rejects: str | None,
    jobs: int = 1,
    diff: bool = False,
) -> FixReport:
    """Fix `paths` into `output` (one input) or in place; with `diff`, write nothing and put the
    changes in the report's `diff`. Returns what was done."""
    files = expand_paths(paths, config)
    for path in files:
        check_rewritable(path, output or path, "fix")
    if output and len(files) != 1:
        raise CurateError("--output takes exactly one input file; use --in-place for several")
    plan, removers = fix_plan(config, unsafe)
    for path in files:
        check_splittable(path, config.format, config.max_record_bytes)
    if removers:
        plan_removals(plan, lint_paths(paths, removers_config(config, removers), splits, references, jobs), removers)
    report = FixReport()
    report.rejects = rejects or default_rejects(output or files[0])
    if diff:
        if any(is_parquet(path) for path in files):
            raise CurateError("--diff shows text changes; it does not apply to Parquet files (use -o FILE)")
        report.diff = "".join(_diff(path, plan, report) for path in files)
        return report
    with RejectsFile(report.rejects) as rejected:
        for path in files:
            target = output or path
            (fix_parquet if is_parquet(path) else _fix_file)(path, target, plan, rejected, report)
            report.outputs.append(target)
    report.rejects_note = rejected.note()
    return report


def fix_plan(config: Config, unsafe: bool) -> tuple[_Plan, set]:
    """The plan's editors, and the codes whose findings remove records (`plan_removals` adds those)."""
    rules = load_rules()
    selected = [c for c in config.selected() if rules[c].fix is not None and (unsafe or not rules[c].unsafe_fix)]
    removers = {c for c in selected if rules[c].fix == "remove"}
    return _Plan(
        config.format, [rules[c] for c in selected if callable(rules[c].fix)], config.max_record_bytes
    ), removers


def removers_config(config: Config, removers: set) -> Config:
    """The configuration of the lint that finds the records to remove: only the removing rules."""
    return Config(**{**config.__dict__, "select": sorted(removers), "ignore": [], "extend_select": []})


def plan_removals(plan: _Plan, result, removers: set) -> None:
    for d in result.diagnostics:
        if d.code in removers and d.record is not None:
            plan.to_remove.setdefault(d.record, []).append(d)
    index = 0
    for info in stream_order(result.files):
        plan.first_index.setdefault(info.path, index)
        plan.split_of.setdefault(info.path, info.split)
        plan.sha256.setdefault(info.path, info.sha256)
        index += info.records


def check_splittable(path: str, fmt: str | None, max_record_bytes: int) -> None:
    """Refuse a `.json` file that `fix` cannot split into records exactly: a malformed array
    element, JSON lines after the array, or a document that is neither an array nor JSON lines."""
    if not path.lower().endswith((".json", ".json.gz")):
        return
    array = None
    for rec in read_file(FileInfo(path, "unsplit", ""), fmt, 0, max_record_bytes):
        array = bool(rec.element) if array is None else array
        problem = None
        if array and not rec.element:
            problem = f"JSON lines follow the JSON array at line {rec.line}"
        elif rec.error:
            problem = f"{rec.error} at line {rec.line}"
        elif not array and parse(rec).error:
            problem = f"line {rec.line} is not a JSON record, and the file is not a JSON array"
        if problem:
            raise CurateError(
                f"{path}: cannot be split into records exactly ({problem}); `curate fix` does not rewrite it"
            )


def _fix_file(path, target, plan, rejected, report):
    with atomic_writer(target, "wb") as raw_out:
        out = gzip.open(raw_out, "wb") if target.lower().endswith(".gz") else raw_out  # noqa: SIM115 (closed below)
        _write_fixed(path, out, plan, rejected, report)
        if out is not raw_out:
            out.close()


def _write_fixed(path, out, plan, rejected, report) -> None:
    """Copy `path`'s (decompressed) bytes to `out` with the plan's edits and removals."""
    info = FileInfo(path, plan.split_of.get(path, "unsplit"), "")
    records = read_file(info, plan.fmt, plan.first_index.get(path, 0), plan.max_record_bytes)
    try:
        raw, hashed, source = open_decoded(path)
    except OSError as exc:
        raise CurateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with raw:
        try:
            copy_with(source, out, _changes(records, plan, rejected, report))
        except NotEditable as exc:
            raise CurateError(f"{path}: {exc}; nothing written") from None
        while hashed.read(1 << 20):
            pass
    if hashed.sha.hexdigest() != info.sha256 or plan.sha256.get(path, info.sha256) != info.sha256:
        raise CurateError(f"{path}: the file changed while being fixed; nothing written")


def _changes(records, plan, rejected, report):
    """(start, end, new bytes) for every span of the file that changes, in file order."""
    elements = []
    for rec in records:
        removal, new = fix_record(rec, plan, rejected, report)
        if rec.element:
            elements.append((rec, removal, new))
        elif elements:
            raise NotEditable(f"JSON lines follow the JSON array at line {rec.line}")
        elif removal is not None:
            yield rec.start, rec.stop, b""
        elif new is not None:
            yield rec.start, rec.end, new
    if elements:
        yield from _element_changes(elements)


def fix_record(rec, plan, rejected, report):
    """One record's fate, counted in `report`: (the diagnostic that removes it, its entry written to `rejected`,
    and None), or (None, its fixed bytes or None when it stays as it is)."""
    report.read += 1
    parse(rec)
    removal = _removal(rec, plan, report)
    new = None
    if removal is not None:
        _reject(rec, removal, rejected, report)
    else:
        report.kept += 1
        new = _edited(rec, plan.editors, report)
    return removal, new


def _element_changes(elements):
    spans = [(rec.start, rec.end) for rec, _, _ in elements]
    removed = {i for i, (_, removal, _) in enumerate(elements) if removal is not None}
    changes = [(s, e, b"") for s, e in element_removals(spans, removed)]
    changes += [(rec.start, rec.end, new) for rec, removal, new in elements if new is not None]
    return sorted(changes)


def _suspect(rec) -> bool:
    """Bytes that are not clean UTF-8, or U+FFFD that could stand for such bytes."""
    return bool(rec.encoding_issue) or b"\xef\xbf\xbd" in rec.raw or b"\\ufffd" in rec.raw.lower()


def _removal(rec, plan, report):
    """The diagnostic that removes `rec`, or None.

    An exact duplicate (D001) whose bytes are not clean UTF-8 is removed only when its bytes
    equal an earlier record's of the same split: records that differ only in bytes that do not
    decode are never merged.
    """
    if not plan.to_remove:
        return None
    key = suspect_key(rec)
    seen = key is not None and plan.seen_before(rec.index, key)
    found = None
    for d in plan.to_remove.get(rec.index, ()):
        if d.code == "D001" and key is not None and not seen:
            report.not_fixed.append(
                f"{rec.path}:{rec.line}: not removed ({d.code}): its bytes differ from the "
                "earlier record's where they are not valid UTF-8"
            )
            continue
        found = d
        break
    return found


def suspect_key(rec) -> tuple | None:
    """(split group, digest of the bytes) of a parsed record whose bytes are not clean UTF-8, else None."""
    if not _suspect(rec):
        return None
    group = "train" if rec.split in ("train", "unsplit") else rec.split
    return group, hashlib.blake2b(rec.raw.strip(), digest_size=16).digest()


def _reject(rec, d, rejected, report) -> None:
    entry = {
        "path": rec.path,
        "line": rec.line,
        "code": d.code,
        "reason": d.message,
        "related": [{"path": r.path, "line": r.line} for r in d.related],
        "record": rec.raw.decode("utf-8", errors="replace"),
    }
    if rec.element:
        entry["element"] = rec.element
    try:
        rec.raw.decode("utf-8")
    except UnicodeDecodeError:
        entry["record_base64"] = base64.b64encode(rec.raw).decode("ascii")  # the exact bytes
    rejected.write(json.dumps(entry, ensure_ascii=False) + "\n")
    report.removed += 1
    report.by_code[d.code] = report.by_code.get(d.code, 0) + 1


def _edited(rec, editors, report) -> bytes | None:
    """The record's bytes after its fixes, or None when it is left as it is."""
    if rec.error is not None or not isinstance(rec.data, dict) or not editors:
        return None
    fmt = FORMATS[rec.fmt]
    edits, codes = [], []
    for rule in editors:
        found = rule.fix(rec.data, fmt)
        if found:
            edits += found
            codes.append(rule.code)
    if not edits:
        return None
    try:
        if rec.encoding_issue:
            raise NotEditable(f"invalid encoding ({rec.encoding_issue})")
        if rec.duplicate_keys:
            pointer, key = rec.duplicate_keys[0]
            raise NotEditable(f"duplicate key {json.dumps(key)} in the object at {pointer or 'the top level'}")
        new = edit_record(rec.raw, rec.data, edits)
    except NotEditable as exc:
        report.not_fixed.append(f"{rec.path}:{rec.line}: not fixed: {exc}")
        return None
    report.changed += 1
    for code in codes:
        report.by_code[code] = report.by_code.get(code, 0) + 1
    return new


def _diff(path: str, plan: _Plan, report: FixReport) -> str:
    """The unified diff between `path` and what `fix` would write in its place."""
    new = io.BytesIO()
    _write_fixed(path, new, plan, io.StringIO(), report)
    raw, _, source = open_decoded(path)
    with raw:
        old = source.read()
    if old == new.getvalue():
        return ""
    before, after = (b.decode("utf-8", errors="replace").splitlines(keepends=True) for b in (old, new.getvalue()))
    return "".join(_terminated(difflib.unified_diff(before, after, fromfile=path, tofile=path)))


def _terminated(lines):
    """Diff lines, each ending in a newline (a last line without one gets the usual marker)."""
    for line in lines:
        if line.endswith(("\n", "\r")):
            yield line
        else:
            yield line + "\n\\ No newline at end of file\n"
