"""`curate fix` on a Parquet file: the same edits and removals, written back as Parquet with the same schema.

Edits apply to the row as pyarrow reads it (binary, date and decimal values
keep their types), rows are written batch by batch with the input's schema
(its metadata included), and each removed row goes to the rejects file as
JSON lines with its rule, reason and related location, its `line` being the
1-based row. Kept plus rejected rows equal the input rows.
"""

from __future__ import annotations

import json

from curate.atomic import atomic_writer
from curate.edits import apply_edits
from curate.filetype import require, sniff
from curate.formats import FORMATS
from curate.tabular import parquet_batches, row_json, rows_format


def is_parquet(path: str) -> bool:
    kind = sniff(path)
    return kind is not None and kind.container == "parquet"


def fix_parquet(path, target, plan, rejected, report) -> None:
    """Write `path`'s kept rows, edited, to `target` as Parquet; removed rows to `rejected` (same arguments as
    the fixer's per-file step). A row's record index is the file's first index plus its 0-based row."""
    pa = require("pyarrow")
    import pyarrow.parquet as pq

    first = plan.first_index.get(path, 0)
    with pq.ParquetFile(path) as source:
        schema = source.schema_arrow
        with atomic_writer(target, "wb") as out, pq.ParquetWriter(out, schema) as writer:
            row, fmt = 0, plan.fmt
            for batch in parquet_batches(source):
                rows = batch.to_pylist()
                fmt = fmt or rows_format(rows)
                kept = []
                for data in rows:
                    row += 1
                    fixed = fix_row(path, row, first + row - 1, data, fmt, plan, rejected, report)
                    if fixed is not None:
                        kept.append(fixed)
                writer.write_batch(pa.RecordBatch.from_pylist(kept, schema=schema))


def fix_row(path: str, row: int, index: int, data: dict, fmt: str, plan, rejected, report) -> dict | None:
    """Row `row` (1-based, record `index` of the lint) fixed, or None when it is removed (its entry to `rejected`)."""
    report.read += 1
    findings = plan.to_remove.get(index)
    if findings:
        _reject(rejected, path, row, findings[0], data, report)
        return None
    report.kept += 1
    return _edited(data, FORMATS[fmt], plan.editors, report)


def _reject(rejected, path: str, row: int, finding, data: dict, report) -> None:
    entry = {
        "path": path,
        "line": row,
        "code": finding.code,
        "reason": finding.message,
        "related": [{"path": r.path, "line": r.line} for r in finding.related],
        "record": row_json(data).decode("utf-8"),
    }
    rejected.write(json.dumps(entry, ensure_ascii=False) + "\n")
    report.removed += 1
    report.by_code[finding.code] = report.by_code.get(finding.code, 0) + 1


def _edited(data: dict, fmt, editors, report) -> dict:
    """The row with its fixes applied: the edits are found on the row as the lint reads it (nulls dropped,
    which keeps every key and index path valid) and applied to the row as pyarrow gives it."""
    seen = json.loads(row_json(data))
    edits, codes = [], []
    for rule in editors:
        found = rule.fix(seen, fmt)
        if found:
            edits += found
            codes.append(rule.code)
    if not edits:
        return data
    report.changed += 1
    for code in codes:
        report.by_code[code] = report.by_code.get(code, 0) + 1
    return apply_edits(data, edits)
