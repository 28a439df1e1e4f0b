"""`curate fix`: rewrite datasets with safe fixes; every removed record goes to a rejects file."""

from __future__ import annotations

import gzip
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field

from curate.atomic import atomic_writer
from curate.config import Config
from curate.discovery import expand_paths
from curate.engine import lint_paths
from curate.errors import CurateError
from curate.filetype import check_rewritable
from curate.formats import FORMATS
from curate.parquet_fix import fix_parquet, is_parquet
from curate.parse import parse
from curate.reader import FileInfo, read_file
from curate.registry import load_rules


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

    def describe(self) -> str:
        fixes = ", ".join(f"{c}: {n}" for c, n in sorted(self.by_code.items())) or "none"
        lines = [f"Read {self.read} records: kept {self.kept} ({self.changed} changed), removed {self.removed}.",
                 f"Fixes applied: {fixes}."]
        lines += [f"Wrote {p}" for p in self.outputs]
        if self.removed:
            lines.append(f"Removed records are in {self.rejects}")
        return "\n".join(lines)


def default_rejects(output: str) -> str:
    base = output[:-3] if output.endswith(".gz") else output
    stem, ext = os.path.splitext(base)
    return f"{stem}.rejects{ext if ext in ('.jsonl', '.ndjson', '.json') else '.jsonl'}"


def fix_paths(paths: list[str], config: Config, splits: dict, references, unsafe: bool,
              output: str | None, rejects: str | None, jobs: int = 1) -> FixReport:
    """Fix `paths` into `output` (one input) or in place; returns what was done."""
    files = expand_paths(paths, config)
    for path in files:
        check_rewritable(path, output or path, "fix")
    if output and len(files) != 1:
        raise CurateError("--output takes exactly one input file; use --in-place for several")
    rules = load_rules()
    selected = [c for c in config.selected() if rules[c].fix is not None and (unsafe or not rules[c].unsafe_fix)]
    removers = {c for c in selected if rules[c].fix == "remove"}
    editors = [rules[c] for c in selected if callable(rules[c].fix)]
    to_remove: dict[tuple[str, int], object] = {}
    if removers:
        lint_config = Config(**{**config.__dict__, "select": sorted(removers), "ignore": [], "extend_select": []})
        for d in lint_paths(paths, lint_config, splits, references, jobs).diagnostics:
            if d.code in removers:
                to_remove.setdefault((d.path, d.line), d)
    report = FixReport()
    report.rejects = rejects or default_rejects(output or files[0])
    with atomic_writer(report.rejects) as rejected:
        for path in files:
            target = output or path
            (fix_parquet if is_parquet(path) else _fix_file)(path, target, config, editors, to_remove, rejected, report)
            report.outputs.append(target)
    if not report.removed:
        os.unlink(report.rejects)
    return report


def _fix_file(path, target, config, editors, to_remove, rejected, report):
    info = FileInfo(path, "unsplit", "")
    fmt_name = config.format
    records = read_file(info, fmt_name, 0)  # safe in place: the target is replaced only at the end
    as_array = target.lower().endswith((".json", ".json.gz"))
    opener = gzip.open if target.lower().endswith(".gz") else open
    with atomic_writer(target, "wb") as raw_out:
        out = opener(raw_out, "wb") if opener is gzip.open else raw_out
        first = True
        if as_array:
            out.write(b"[\n")
        for rec in records:
            report.read += 1
            d = to_remove.get((path, rec.line))
            if d is not None:
                entry = {"path": path, "line": rec.line, "code": d.code, "reason": d.message,
                         "related": [{"path": r.path, "line": r.line} for r in d.related],
                         "record": rec.raw.decode("utf-8", errors="replace")}
                rejected.write(json.dumps(entry, ensure_ascii=False) + "\n")
                report.removed += 1
                report.by_code[d.code] = report.by_code.get(d.code, 0) + 1
                continue
            line = _apply(rec, editors, report)
            if as_array:
                out.write(b"" if first else b",\n")
            out.write(line + (b"" if as_array else b"\n"))
            first = False
            report.kept += 1
        if as_array:
            out.write(b"\n]\n")
        if out is not raw_out:
            out.close()


def _apply(rec, editors, report) -> bytes:
    """The record's line after edits; unparseable records come back byte for byte."""
    parse(rec)
    if rec.error is not None or not isinstance(rec.data, dict) or not editors:
        return rec.raw
    data = rec.data
    fmt = FORMATS[rec.fmt]
    applied = defaultdict(int)
    for rule in editors:
        if rule.fix(data, fmt):
            applied[rule.code] += 1
    if not applied:
        return rec.raw
    report.changed += 1
    for code, n in applied.items():
        report.by_code[code] = report.by_code.get(code, 0) + n
    return json.dumps(data, ensure_ascii=False).encode("utf-8")
