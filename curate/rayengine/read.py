"""Files -> a Ray dataset of records, one row per record, numbered exactly as the local engine numbers them.

Each input file is one read task (a row of ``from_items``); ``map_batches`` runs curate's own reader
(``curate.reader.read_file``, which hands tabular files to ``curate.tabular``) in a worker and yields
the file's records in batches of ``BATCH`` rows, then one metadata row (format, record count,
sha256, size, or the read error). The driver reads back only those metadata rows: it fills each
``FileInfo`` as the local reader does, and numbers the records (``index``) in ``engine.stream_order``
(protected splits first). Records are never collected on the driver.
"""

from __future__ import annotations

import json
import os
from functools import partial

import pyarrow as pa

from curate.engine import stream_order
from curate.errors import CurateError
from curate.reader import STDIN, FileInfo, Oversize, read_file
from curate.records import Record

BATCH = 1000
META = -1  # the ``ordinal`` of a file's metadata row

SCHEMA = pa.schema(
    [
        ("file", pa.int32()),  # the file's position in stream order
        ("ordinal", pa.int64()),  # the record's 0-based position in its file; META for the metadata row
        ("path", pa.string()),
        ("line", pa.int64()),
        ("split", pa.string()),
        ("raw", pa.large_binary()),  # the metadata row: its JSON
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("stop", pa.int64()),
        ("element", pa.int64()),
        ("error", pa.string()),  # the reader's error of the record, or null
        ("oversize", pa.bool_()),  # the error is an over-max-record-bytes skip
        ("fmt", pa.string()),
    ]
)
INDEXED = SCHEMA.insert(0, pa.field("index", pa.int64()))


def read_records(files: list[FileInfo], fmt: str | None, max_record_bytes: int):
    """The records of ``files`` as a ``ray.data.Dataset`` with the columns of ``INDEXED``.

    ``index`` is the global record index of the local engine (``engine.stream_order``); row order is
    index order. Fills each ``FileInfo`` (format, records, sha256, size) as ``read_file`` does; a file
    that cannot be read raises its CurateError here. The files are read once, here (the dataset is
    materialized in Ray's object store, spilling to disk); the numbering runs lazily in the consumer's
    pipeline. Needs a connected Ray (``session.connect``).
    """
    import ray.data
    from ray.data.expressions import col

    ordered = stream_order(files)
    for info in ordered:
        if (info.source or info.path) == STDIN:
            raise CurateError("--engine ray cannot read standard input; pass a file")
    # workers do not share the driver's working directory: they read absolute paths
    tasks = [
        {"file": i, "path": f.path, "split": f.split, "source": os.path.abspath(f.source or f.path)}
        for i, f in enumerate(ordered)
    ]
    read_task = partial(_read_task, fmt=fmt, limit=max_record_bytes)
    items = ray.data.from_items(tasks, override_num_blocks=max(len(tasks), 1))
    read = items.map_batches(read_task, batch_size=1, batch_format="pyarrow").materialize()
    offsets = _apply_metadata(ordered, read.filter(expr=col("ordinal") == META).take_all())
    return read.map_batches(_number, batch_format="pyarrow", fn_kwargs={"offsets": offsets})


def _read_task(task: pa.Table, fmt: str | None, limit: int):
    """One file's records in batches of BATCH rows, then its metadata row (in a worker)."""
    (t,) = task.to_pylist()
    info = FileInfo(t["path"], t["split"], "", source=t["source"])
    rows: list[tuple] = []
    meta: dict = {}
    try:
        for ordinal, rec in enumerate(read_file(info, fmt, 0, limit, report_oversize=True)):
            rows.append((ordinal, rec.line, rec.raw, rec.start, rec.end, rec.stop, rec.element, rec.error, rec.fmt))
            if len(rows) >= BATCH:
                yield _table(t, rows)
                rows = []
        meta = {"format": info.format, "records": info.records, "sha256": info.sha256, "size": info.size}
    except CurateError as exc:
        meta = {"error": str(exc)}
    if rows:
        yield _table(t, rows)
    yield _table(t, [(META, 0, json.dumps(meta).encode(), 0, 0, 0, 0, None, None)])


def _table(task: dict, rows: list[tuple]) -> pa.Table:
    ordinal, line, raw, start, end, stop, element, error, fmt = zip(*rows)
    n = len(rows)
    return pa.Table.from_pydict(
        {
            "file": [task["file"]] * n,
            "ordinal": ordinal,
            "path": [task["path"]] * n,
            "line": line,
            "split": [task["split"]] * n,
            "raw": raw,
            "start": start,
            "end": end,
            "stop": stop,
            "element": element,
            "error": [None if e is None else str(e) for e in error],
            "oversize": [isinstance(e, Oversize) for e in error],
            "fmt": fmt,
        },
        schema=SCHEMA,
    )


def _apply_metadata(ordered: list[FileInfo], metas: list[dict]) -> list[int]:
    """Fill the FileInfos from the metadata rows; the first index of each file, in stream order."""
    by_file = {row["file"]: json.loads(row["raw"]) for row in metas}
    offsets, total = [], 0
    for i, info in enumerate(ordered):
        meta = by_file[i]
        if "error" in meta:
            raise CurateError(meta["error"])
        info.format, info.records, info.sha256, info.size = (
            meta["format"],
            meta["records"],
            meta["sha256"],
            meta["size"],
        )
        offsets.append(total)
        total += info.records
    return offsets


def _number(batch: pa.Table, offsets: list[int]) -> pa.Table:
    """The batch's records (metadata rows dropped) with their global ``index`` in front."""
    import pyarrow.compute as pc

    batch = batch.filter(pc.not_equal(batch["ordinal"], META))
    base = pa.array([offsets[f] for f in batch["file"].to_pylist()], pa.int64())
    return batch.add_column(0, "index", pc.add(base, batch["ordinal"]))


def to_records(batch) -> list[Record]:
    """curate Records rebuilt from a batch of ``read_records`` rows (pyarrow, pandas or a dict of columns)."""
    cols = _columns(batch)
    errors = [Oversize(e) if big else e for e, big in zip(cols["error"], cols["oversize"])]
    return [
        Record(
            path,
            line,
            split,
            bytes(raw),
            index=index,
            fmt=fmt,
            error=error,
            start=start,
            end=end,
            stop=stop,
            element=element,
        )
        for index, path, line, split, raw, fmt, error, start, end, stop, element in zip(
            cols["index"],
            cols["path"],
            cols["line"],
            cols["split"],
            cols["raw"],
            cols["fmt"],
            errors,
            cols["start"],
            cols["end"],
            cols["stop"],
            cols["element"],
        )
    ]


def _columns(batch) -> dict[str, list]:
    if isinstance(batch, pa.Table):
        return batch.to_pydict()
    if hasattr(batch, "to_dict"):  # pandas
        return {name: batch[name].tolist() for name in batch.columns}
    return {name: values.tolist() if hasattr(values, "tolist") else list(values) for name, values in batch.items()}
