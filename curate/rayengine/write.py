"""Sharded outputs of ``fix --engine ray`` and ``split --engine ray`` (docs/ray.md).

Each worker writes the records of its batch, already in record order, to *parts* in a hidden
staging folder inside the output folder (``.curate-ray-XXXXXXXX``, flocked while live) and
returns one small row per part: which input (or split) it belongs to, its kind (``kept``,
``rejects``, a split name), the index of its first record and how many records it holds. The
driver sees only those rows: it numbers each input's parts in record order as shards
``STEM-00000-of-00004.jsonl`` (rejects ``STEM-00000-of-00001.rejects.jsonl``) and moves them into
place, one ``os.replace`` each, after checking that the inputs did not change. A shard is
therefore complete or absent; an interrupted run leaves only the staging folder, which the next
run removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from curate.atomic import remove_stale
from curate.errors import CurateError
from curate.filetype import BINARY_SUFFIXES, COMPRESSIONS, TEXT_BASES

STAGING_PREFIX = ".curate-ray-"
PART_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("kind", pa.string()),
        ("first", pa.int64()),
        ("records", pa.int64()),
        ("part", pa.string()),
        ("suffix", pa.string()),
        ("counts", pa.string()),  # a ``counts`` row's JSON (see ``PartWriter.counts``), else empty
    ]
)


def output_stem(path: str) -> str:
    """The input's file name without its compression and dataset suffixes (``data/train.jsonl.gz`` -> ``train``)."""
    name = os.path.basename(os.path.normpath(path))
    lower = name.lower()
    for suffix in (*COMPRESSIONS, *TEXT_BASES, *BINARY_SUFFIXES):
        if lower.endswith(suffix) and len(name) > len(suffix):
            name, lower = name[: -len(suffix)], lower[: -len(suffix)]
    return name


def check_output_dir(output_dir: str, paths: list[str], files: list[str]) -> None:
    """Refuse an output folder that is a file, holds an input, lies inside an input folder or is not empty."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise CurateError(
            f"--output {output_dir} exists and is not a directory; --engine ray writes a directory of shards"
        )
    out = os.path.realpath(output_dir)
    for path in files:
        if os.path.realpath(path) == out or os.path.realpath(path).startswith(out + os.sep):
            raise CurateError(f"--output {output_dir} contains the input {path}: choose another directory")
    for path in paths:
        real = os.path.realpath(path)
        if os.path.isdir(path) and (out == real or out.startswith(real + os.sep)):
            raise CurateError(
                f"--output {output_dir} is inside the input directory {path}: its shards would "
                f"be read as input by the next run; choose a directory outside it"
            )
    if os.path.isdir(output_dir) and any(not n.startswith(STAGING_PREFIX) for n in os.listdir(output_dir)):
        raise CurateError(
            f"--output {output_dir} is not empty: shards are never mixed with earlier ones "
            f"(rejects are never replaced); choose a new or empty directory"
        )
    stems: dict[str, str] = {}
    for path in files:
        other = stems.setdefault(output_stem(path), path)
        if other != path:
            raise CurateError(
                f"{other} and {path} would write shards of the same name "
                f"({output_stem(path)}-*); fix them into separate directories"
            )


@contextlib.contextmanager
def staging(output_dir: str):
    """A hidden, locked staging folder inside ``output_dir`` (created), removed at the end whatever happens."""
    try:
        os.makedirs(output_dir, exist_ok=True)
        remove_stale(os.path.join(output_dir, STAGING_PREFIX + "*"))  # left by killed runs
        folder = tempfile.mkdtemp(dir=os.path.abspath(output_dir), prefix=STAGING_PREFIX)  # workers have their own cwd
    except OSError as exc:
        raise CurateError(f"{output_dir}: cannot write: {exc.strerror or exc}") from None
    lock = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # marks the folder as live for other runs' cleanup
        yield folder
    finally:
        os.close(lock)
        shutil.rmtree(folder, ignore_errors=True)


def one_line(raw: bytes) -> bytes:
    """A record's bytes on one line: raw newlines in a JSON text can only be whitespace between tokens."""
    if b"\n" not in raw and b"\r" not in raw:
        return raw
    return raw.replace(b"\r\n", b" ").replace(b"\n", b" ").replace(b"\r", b" ")


@dataclass
class PartWriter:
    """Collects the parts one worker batch writes into the staging folder, and their rows for the driver."""

    folder: str
    rows: list

    @classmethod
    def into(cls, folder: str) -> PartWriter:
        return cls(folder, [])

    def lines(self, source: str, kind: str, first: int, lines: list[bytes], suffix: str) -> None:
        """A text part: each line followed by a newline."""
        self._write(source, kind, first, len(lines), suffix, lambda f: f.write(b"".join(b + b"\n" for b in lines)))

    def parquet(self, source: str, kind: str, first: int, rows: list[dict], schema) -> None:
        """A Parquet part with the input's schema."""
        import pyarrow.parquet as pq

        self._write(
            source,
            kind,
            first,
            len(rows),
            ".parquet",
            lambda f: pq.write_table(pa.Table.from_pylist(rows, schema=schema), f),
        )

    def _write(self, source, kind, first, count, suffix, body) -> None:
        path = os.path.join(self.folder, f"{kind}-{first:012d}-{len(self.rows)}{suffix}")
        try:
            with open(path, "wb") as f:
                body(f)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise CurateError(f"{path}: cannot write: {exc.strerror or exc}") from None
        self.rows.append((source, kind, first, count, path, suffix, ""))

    def counts(self, counts: dict) -> None:
        """A row of kind ``counts`` that carries the batch's bookkeeping (JSON) to the driver."""
        self.rows.append(("", "counts", 0, 0, "", "", json.dumps(counts)))

    def table(self) -> pa.Table:
        cols: list = list(zip(*self.rows)) if self.rows else [[] for _ in PART_SCHEMA]
        return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(cols, PART_SCHEMA)], schema=PART_SCHEMA)


@dataclass
class Shard:
    """A published shard: where it is, what it holds."""

    source: str
    kind: str
    path: str
    records: int


def shard_plan(parts: list[dict], output_dir: str, stems: dict[str, str], keep_empty: set) -> tuple[list, list]:
    """(staged part, final path) moves and the Shards they make: each (source, kind)'s non-empty parts in
    record order, numbered ``-00000-of-0000N``; a (source, kind) in ``keep_empty`` with only empty parts
    keeps one empty shard, so that every input has an output."""
    groups: dict[tuple, list] = defaultdict(list)
    for p in parts:
        groups[(p["source"], p["kind"])].append(p)
    moves, shards, drop = [], [], []
    for (source, kind), group in sorted(groups.items()):
        group.sort(key=lambda p: p["first"])
        chosen = [p for p in group if p["records"]] or ([group[0]] if (source, kind) in keep_empty else [])
        drop += [p["part"] for p in group if p not in chosen]
        tail = ".rejects" if kind == "rejects" else ""
        for k, p in enumerate(chosen):
            final = os.path.join(output_dir, f"{stems[source]}-{k:05d}-of-{len(chosen):05d}{tail}{p['suffix']}")
            moves.append((p["part"], final))
            shards.append(Shard(source, kind, final, p["records"]))
    return moves, shards


def publish(moves: list[tuple[str, str]]) -> None:
    """Move the staged parts into place, one atomic rename each."""
    for part, final in moves:
        try:
            os.replace(part, final)
        except OSError as exc:
            raise CurateError(f"{final}: cannot write: {exc.strerror or exc}") from None
