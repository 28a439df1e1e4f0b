"""Parquet, Arrow IPC and CSV/TSV files as records, streamed in record batches with pyarrow.

Each row becomes one record whose `raw` is the row as a JSON object, so every
rule reads it exactly as it reads a JSONL line; its `line` is the 1-based row.
Columnar files cannot tell an absent key from a null one (`datasets` writes
null for every key a row lacks), so null struct fields and null columns are
left out of the object, as they were in the JSON it came from. NaN and
infinite floats become null too; bytes that are not UTF-8 become a
`<binary: N bytes>` placeholder; dates and decimals become strings.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections import Counter
from collections.abc import Iterator

from curate.certificate import file_sha256
from curate.errors import CurateError
from curate.filetype import FileKind, decompressed, require
from curate.formats import detect
from curate.reader import DETECT_SAMPLE, FileInfo
from curate.records import Record

BATCH_ROWS = 1024


def read_table(info: FileInfo, kind: FileKind, forced_format: str | None, start_index: int) -> Iterator[Record]:
    """Stream one tabular file's records; fills `info` (records, sha256, size, format) as it goes."""
    pa = require("pyarrow")
    source = info.source or info.path  # the gate reads a private snapshot of the file
    before = _stamp(source)
    row, index = 0, start_index
    try:
        for rows in _batches(source, kind):
            if not info.format:
                info.format = forced_format or rows_format(rows)
            for data in rows:
                row += 1
                raw = row_json(data)
                yield Record(info.path, row, info.split, raw, index=index, fmt=info.format)
                index += 1
                info.records += 1
    except (pa.ArrowException, OSError, UnicodeError, ValueError) as exc:
        raise CurateError(f"{info.path}: cannot read {kind.describe()}: {exc}") from None
    info.format = info.format or forced_format or "openai"
    info.sha256, info.size = file_sha256(source), os.path.getsize(source)
    if _stamp(source) != before:
        raise CurateError(f"{info.path}: changed while being read; run again")


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _batches(path: str, kind: FileKind) -> Iterator[list[dict]]:
    """The file's rows as lists of dicts, at most BATCH_ROWS at a time."""
    pa = require("pyarrow")
    if kind.container == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as pf:
            for batch in parquet_batches(pf):
                yield batch.to_pylist()
    elif kind.container == "arrow":
        import pyarrow.ipc

        with pa.memory_map(path) as source:
            reader = pyarrow.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield from _slices(reader.get_batch(i))
    elif kind.container == "arrow-stream":
        import pyarrow.ipc

        with pa.OSFile(path) as source:
            for batch in pyarrow.ipc.open_stream(source):
                yield from _slices(batch)
    else:
        yield from _csv_batches(path, kind)


def parquet_batches(pf) -> Iterator:
    """Record batches of a ParquetFile, one row group at a time.

    `iter_batches` over the whole file pre-buffers every row group it was asked
    for, so memory grows with the file; asking per row group keeps it flat.
    """
    for group in range(pf.num_row_groups):
        yield from pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group])


def _slices(batch) -> Iterator[list[dict]]:
    for offset in range(0, batch.num_rows, BATCH_ROWS):
        yield batch.slice(offset, BATCH_ROWS).to_pylist()


def _csv_batches(path: str, kind: FileKind) -> Iterator[list[dict]]:
    """CSV/TSV rows with every column read as text (a numeric-looking answer stays a string)."""
    pa = require("pyarrow")
    import pyarrow.csv as pcsv

    delimiter = "\t" if kind.container == "tsv" else ","
    with _csv_source(path, kind) as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
        header = next(csv.reader(text, delimiter=delimiter), None)
        text.detach()
    if not header:
        return
    with _csv_source(path, kind) as f:
        reader = pcsv.open_csv(
            f,
            read_options=pcsv.ReadOptions(block_size=1 << 24),  # a row must fit in one block
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield from _slices(batch)


@contextlib.contextmanager
def _csv_source(path: str, kind: FileKind):
    with open(path, "rb") as raw:
        if not kind.compression:
            yield raw
            return
        with decompressed(raw, kind.compression) as stream:
            yield stream


def row_json(row: dict) -> bytes:
    """A row as the JSON object a rule reads (see the module docstring)."""
    return json.dumps(_clean(row), ensure_ascii=False, default=_json_default).encode("utf-8")


def rows_format(rows: list[dict]) -> str:
    """The record format most of the first rows look like (openai when none)."""
    votes = Counter(detect(_clean(r)) for r in rows[:DETECT_SAMPLE])
    votes.pop(None, None)
    return str(votes.most_common(1)[0][0]) if votes else "openai"


def _clean(value):
    """A row value as the JSON it stands for: nulls of objects dropped, NaN and infinities null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None and not _nan(v)}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return None if _nan(value) else value


def _nan(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _json_default(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return f"<binary: {len(data)} bytes>"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # Decimal, timedelta, UUID and other scalar types
