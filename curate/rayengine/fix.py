"""``curate fix --engine ray``: the local fixer's decisions and edits, applied in Ray workers, written as shards.

The records to remove come from the Ray lint of the removing rules (``lint_paths_ray``), turned into
the fix plan exactly as the local fixer does (``fixer.plan_removals``); each record's fate and fixed
bytes come from the local fixer's own ``fix_record`` (``parquet_fix.fix_row`` for Parquet rows), in
``map_batches`` over the records read by ``rayengine.read``. Kept records go to shards in the input's
format (JSON lines; Parquet from Parquet), removed ones to reject shards with the local rejects
entries (rule, reason, related location, the record's bytes). The driver holds the lint's findings,
the few keys of records whose bytes are not clean UTF-8, and one row per written part, never the
records. Bookkeeping as locally: records read = kept + removed, for every input file, and the
shards hold exactly those counts.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter

import pyarrow as pa

from curate.config import Config
from curate.discovery import expand_paths
from curate.errors import CurateError
from curate.filetype import check_rewritable
from curate.fixer import FixReport, check_splittable, fix_plan, fix_record, plan_removals, removers_config, suspect_key
from curate.locks import StableInputs
from curate.outputs import unique_inputs
from curate.parquet_fix import fix_row, is_parquet
from curate.parse import parse
from curate.rayengine.write import (
    PartWriter,
    check_output_dir,
    one_line,
    output_stem,
    publish,
    shard_plan,
    staging,
)
from curate.reader import FileInfo

_COUNTS = ("read", "kept", "changed", "removed")
SHARD_RECORDS = 50_000  # records per map_batches batch, so at most this many per shard


def fix_on_ray(
    paths: list[str],
    config: Config,
    splits: dict,
    references,
    unsafe: bool,
    output: str | None,
    in_place: bool,
    rejects: str | None,
    diff: bool,
    jobs: int,
    address: str | None,
) -> FixReport:
    """``curate fix --engine ray``: refuse what shards cannot do, then ``fix_paths_ray``."""
    if in_place:
        raise CurateError(
            "--in-place is not available with --engine ray: a file rewritten by many workers cannot "
            "be replaced atomically; write shards with --output DIR"
        )
    if diff:
        raise CurateError("--diff is not available with --engine ray; run it with --engine local")
    if rejects:
        raise CurateError("--rejects is not available with --engine ray: reject shards go into the --output directory")
    if not output:
        raise CurateError("--engine ray needs --output DIR (a new or empty directory for the shards)")
    return fix_paths_ray(paths, config, splits, references, unsafe, output, jobs, address)


def fix_paths_ray(
    paths: list[str],
    config: Config,
    splits: dict,
    references,
    unsafe: bool,
    output_dir: str,
    jobs: int = 1,
    address: str | None = None,
    shard_records: int = SHARD_RECORDS,
) -> FixReport:
    """Fix ``paths`` on Ray into shards in ``output_dir`` (new or empty) of at most ``shard_records`` records each;
    removed records into reject shards there."""
    from curate.rayengine.session import connect

    files = unique_inputs(expand_paths(paths, config))
    check_output_dir(output_dir, list(paths), files + expand_paths(list(references), config))
    for path in files:
        check_rewritable(path, "shard.parquet" if is_parquet(path) else "shard.jsonl", "fix")
        check_splittable(path, config.format, config.max_record_bytes)
    with StableInputs(files, exclusive=False) as held:
        connect(address, jobs)
        plan, removers = fix_plan(config, unsafe)
        if removers:
            from curate.rayengine.lint import lint_paths_ray

            lint_config = removers_config(config, removers)
            result = lint_paths_ray(paths, lint_config, splits, references, jobs, address=address)
            plan_removals(plan, result, removers)
        return _fix_held(files, plan, output_dir, held, shard_records)


def _fix_held(files: list[str], plan, output_dir: str, held: StableInputs, shard_records: int) -> FixReport:
    import ray

    from curate.rayengine.read import read_records

    infos = [FileInfo(p, plan.split_of.get(p, "unsplit"), "") for p in files]
    records = read_records(infos, plan.fmt, plan.max_record_bytes)
    for info in infos:
        if plan.sha256.get(info.path, info.sha256) != info.sha256:
            raise CurateError(f"{info.path}: the file changed while being fixed; nothing written")
    if any(d.code == "D001" for found in plan.to_remove.values() for d in found):
        plan.earlier = _earlier_suspects(records, plan, files)
    report = FixReport()
    with staging(output_dir) as folder:
        parts = records.map_batches(
            _fix_batch,
            batch_size=shard_records,
            batch_format="pyarrow",
            fn_kwargs={
                "plan": ray.put(plan),
                "folder": folder,
                "parquet": {p: os.path.abspath(p) for p in files if is_parquet(p)},
            },
        ).take_all()
        _tally(report, [p for p in parts if p["kind"] == "counts"])
        parts = [p for p in parts if p["kind"] != "counts"]
        moves, shards = shard_plan(parts, output_dir, {p: output_stem(p) for p in files}, {(p, "kept") for p in files})
        _check_bookkeeping(report, infos, shards)
        held.check_unchanged()
        publish(moves)
    report.outputs = [s.path for s in shards if s.kind == "kept"]
    rejects = [s.path for s in shards if s.kind == "rejects"]
    report.rejects = ", ".join(rejects) if rejects else None
    return report


def _earlier_suspects(records, plan, files: list[str]) -> set:
    """Record indices (of the lint) of records whose bytes are not clean UTF-8 and equal an earlier such record's,
    in the order the local fixer meets them (input files in order, records in file order)."""
    rows = records.map_batches(_suspects, batch_format="pyarrow", fn_kwargs={"first": plan.first_index}).take_all()
    order = {p: i for i, p in enumerate(files)}
    rows.sort(key=lambda r: (order[r["path"]], r["index"]))
    seen, earlier = set(), set()
    for r in rows:
        key = (r["group"], r["digest"])
        if key in seen:
            earlier.add(r["index"])
        seen.add(key)
    return earlier


def _records(batch: pa.Table, first: dict) -> list:
    from curate.rayengine.read import to_records

    records = to_records(batch)
    for rec, ordinal in zip(records, batch["ordinal"].to_pylist()):
        rec.index = first.get(rec.path, 0) + ordinal
    return records


def _suspects(batch: pa.Table, first: dict) -> pa.Table:
    """(path, index, split group, digest) of the batch's records whose bytes are not clean UTF-8 (in a worker)."""
    out: dict[str, list] = {"path": [], "index": [], "group": [], "digest": []}
    for rec in _records(batch, first):
        parse(rec)
        key = suspect_key(rec)
        if key is not None:
            for name, value in zip(out, (rec.path, rec.index, *key)):
                out[name].append(value)
    return pa.table(
        {
            "path": pa.array(out["path"], pa.string()),
            "index": pa.array(out["index"], pa.int64()),
            "group": pa.array(out["group"], pa.string()),
            "digest": pa.array(out["digest"], pa.binary()),
        }
    )


def _fix_batch(batch: pa.Table, plan, folder: str, parquet: dict) -> pa.Table:
    """Fix one batch of records (in a worker): its parts written, one row each, and a ``report`` row of counts."""
    import ray

    if isinstance(plan, ray.ObjectRef):
        plan = ray.get(plan)
    report = FixReport()
    writer = PartWriter.into(folder)
    records = _records(batch, plan.first_index)
    for path in dict.fromkeys(r.path for r in records):
        mine = [r for r in records if r.path == path]
        rejected = io.StringIO()
        if path in parquet:
            _fix_rows(path, parquet[path], mine, plan, rejected, report, writer)
        else:
            kept = []
            for rec in mine:
                removal, new = fix_record(rec, plan, rejected, report)
                if removal is None:
                    kept.append(one_line(rec.raw if new is None else new))
            writer.lines(path, "kept", mine[0].index, kept, ".jsonl")
        entries = rejected.getvalue().splitlines(keepends=False)
        writer.lines(path, "rejects", mine[0].index, [e.encode("utf-8") for e in entries], ".jsonl")
    counts = {name: getattr(report, name) for name in _COUNTS}
    writer.counts({**counts, "by_code": report.by_code, "not_fixed": report.not_fixed})
    return writer.table()


def _fix_rows(path: str, source: str, records: list, plan, rejected, report: FixReport, writer: PartWriter) -> None:
    """Parquet rows ``records`` (consecutive rows of ``path``, read from ``source``): the local per-row fix on the
    rows as pyarrow reads them (types kept), written as one Parquet part with the input's schema."""
    import pyarrow.parquet as pq

    from curate.tabular import BATCH_ROWS

    lo, hi = records[0].line - 1, records[-1].line  # 0-based row range [lo, hi)
    rows: list[dict] = []
    with pq.ParquetFile(source) as pf:
        schema, before = pf.schema_arrow, 0
        for group in range(pf.num_row_groups):
            size = pf.metadata.row_group(group).num_rows
            if before < hi and before + size > lo:
                at = before
                for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                    start, stop = max(lo - at, 0), min(hi - at, batch.num_rows)
                    if stop > start:
                        rows += batch.slice(start, stop - start).to_pylist()
                    at += batch.num_rows
            before += size
    if len(rows) != len(records):
        raise CurateError(f"{path}: the file changed while being fixed; nothing written")
    fixed = []
    for rec, data in zip(records, rows):
        out = fix_row(path, rec.line, rec.index, data, rec.fmt or "openai", plan, rejected, report)
        if out is not None:
            fixed.append(out)
    writer.parquet(path, "kept", records[0].index, fixed, schema)


def _tally(report: FixReport, rows: list[dict]) -> None:
    by_code: Counter = Counter()
    for row in rows:
        counts = json.loads(row["counts"])
        for name in _COUNTS:
            setattr(report, name, getattr(report, name) + counts[name])
        by_code.update(counts["by_code"])
        report.not_fixed += counts["not_fixed"]
    report.by_code = dict(by_code)


def _check_bookkeeping(report: FixReport, infos: list[FileInfo], shards: list) -> None:
    """Kept plus removed equals the records read, file by file, and the shards hold exactly those records."""
    read = sum(info.records for info in infos)
    kept = sum(s.records for s in shards if s.kind == "kept")
    removed = sum(s.records for s in shards if s.kind == "rejects")
    if not (report.read == read == report.kept + report.removed and kept == report.kept and removed == report.removed):
        raise CurateError(
            f"the Ray fix lost track of records (read {read}, processed {report.read}, kept "
            f"{report.kept} in shards holding {kept}, removed {report.removed} in shards holding "
            f"{removed}); nothing written"
        )
