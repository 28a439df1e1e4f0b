"""`curate fix` on a Parquet file: the same edits and removals, written back as Parquet with the same schema.

Edits apply to the row as pyarrow reads it (binary, date and decimal values
keep their types), rows are written batch by batch with the input's schema
(its metadata included), and each removed row goes to the rejects file as
JSON lines with its rule, reason and related location, its `line` being the
1-based row. Kept plus rejected rows equal the input rows.
"""

from __future__ import annotations

import json
from collections import defaultdict

from curate.atomic import atomic_writer
from curate.filetype import require, sniff
from curate.formats import FORMATS
from curate.tabular import parquet_batches, row_json, rows_format


def is_parquet(path: str) -> bool:
    kind = sniff(path)
    return kind is not None and kind.container == "parquet"


def fix_parquet(path, target, config, editors, to_remove, rejected, report) -> None:
    """Write `path`'s kept rows, edited, to `target` as Parquet; removed rows to `rejected` (same arguments as
    the fixer's per-file step)."""
    pa = require("pyarrow")
    import pyarrow.parquet as pq
    with pq.ParquetFile(path) as source:
        schema = source.schema_arrow
        with atomic_writer(target, "wb") as out, pq.ParquetWriter(out, schema) as writer:
            row, fmt = 0, config.format
            for batch in parquet_batches(source):
                rows = batch.to_pylist()
                fmt = fmt or rows_format(rows)
                kept = []
                for data in rows:
                    row += 1
                    report.read += 1
                    finding = to_remove.get((path, row))
                    if finding is not None:
                        _reject(rejected, path, row, finding, data, report)
                    else:
                        _edit(data, FORMATS[fmt], editors, report)
                        kept.append(data)
                        report.kept += 1
                writer.write_batch(pa.RecordBatch.from_pylist(kept, schema=schema))


def _reject(rejected, path: str, row: int, finding, data: dict, report) -> None:
    entry = {"path": path, "line": row, "code": finding.code, "reason": finding.message,
             "related": [{"path": r.path, "line": r.line} for r in finding.related],
             "record": row_json(data).decode("utf-8")}
    rejected.write(json.dumps(entry, ensure_ascii=False) + "\n")
    report.removed += 1
    report.by_code[finding.code] = report.by_code.get(finding.code, 0) + 1


def _edit(data: dict, fmt, editors, report) -> None:
    applied: defaultdict[str, int] = defaultdict(int)
    for rule in editors:
        if rule.fix(data, fmt):
            applied[rule.code] += 1
    if applied:
        report.changed += 1
        for code, n in applied.items():
            report.by_code[code] = report.by_code.get(code, 0) + n
