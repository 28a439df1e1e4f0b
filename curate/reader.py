"""Streaming readers for JSONL, gzipped JSONL and JSON array files, with exact line numbers."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import sys
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from curate.errors import CurateError
from curate.formats import FORMATS, detect
from curate.locks import open_regular
from curate.records import Record

DATASET_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")
DETECT_SAMPLE = 64
STDIN = "-"
DEFAULT_MAX_RECORD_BYTES = 8 << 20
_SKIP_BLOCK = 1 << 20


class Oversize(str):
    """The error of a record over max-record-bytes: it was skipped, not read."""


@dataclass
class FileInfo:
    """One input file as read: what the certificate and the summary report."""

    path: str
    split: str
    format: str
    records: int = 0
    sha256: str = ""
    size: int = 0


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given, and every dataset file (sorted) inside each directory argument."""
    out: list[str] = []
    for p in paths:
        if p == STDIN:
            out.append(p)
        elif os.path.isdir(p):
            found = sorted(
                os.path.join(root, name)
                for root, dirs, files in os.walk(p, onerror=_unreadable)
                for name in files
                if name.lower().endswith(DATASET_SUFFIXES)
            )
            if not found:
                raise CurateError(f"{p}: no dataset files (*.jsonl, *.jsonl.gz, *.json) in this directory")
            out.extend(found)
        elif os.path.exists(p):
            out.append(p)
        else:
            raise CurateError(f"{p}: no such file or directory")
    return out


def _unreadable(exc: OSError):
    raise CurateError(f"{exc.filename}: cannot read this folder: {exc.strerror}")


class _HashingReader:
    """File wrapper that hashes the bytes as they stream past."""

    def __init__(self, f):
        self.f, self.sha, self.count = f, hashlib.sha256(), 0

    def read(self, n=-1):
        b = self.f.read(n)
        self.sha.update(b)
        self.count += len(b)
        return b

    def readline(self, n=-1):
        b = self.f.readline(n)
        self.sha.update(b)
        self.count += len(b)
        return b

    def __iter__(self):
        return iter(self.readline, b"")


def _open(path: str):
    """(what to close, the hashing reader of the raw bytes, the decoded stream); regular files or `-` (stdin) only."""
    raw: contextlib.AbstractContextManager
    if path == STDIN:
        raw, hashed = contextlib.nullcontext(), _HashingReader(sys.stdin.buffer)
    else:
        file = os.fdopen(open_regular(path), "rb")
        raw, hashed = file, _HashingReader(file)
    if path.lower().endswith(".gz"):
        return raw, hashed, gzip.GzipFile(fileobj=hashed, mode="rb")
    return raw, hashed, hashed


def _json_array_elements(data: bytes) -> Iterator[tuple[int, bytes, str | None]]:
    """(line, element bytes, error) for each element of a JSON array document."""
    text = data.decode("utf-8", errors="surrogateescape")
    decoder = json.JSONDecoder()
    i, line, n = 0, 1, len(text)

    def skip(j):
        nonlocal line
        while j < n and text[j] in " \t\r\n\ufeff":
            line += text[j] == "\n"
            j += 1
        return j

    i = skip(i) + 1  # past '['
    i = skip(i)
    if i < n and text[i] == "]":
        return
    while i < n:
        start_line = line
        try:
            _, end = decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield start_line, text[i:i + 200].encode("utf-8", "surrogateescape"), f"JSON array element does not parse: {exc}"
            return
        line += text.count("\n", i, end)
        yield start_line, text[i:end].encode("utf-8", "surrogateescape"), None
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
        elif i < n and text[i] == "]":
            return
        else:
            yield line, text[i:i + 200].encode("utf-8", "surrogateescape"), "expected ',' or ']' in JSON array"
            return


def _lines(stream, limit: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[tuple[int, bytes, str | None]]:
    """(1-based number, bytes, error) of each non-blank line, in memory bounded by ``limit``.

    A line over ``limit`` bytes is skipped block by block up to its newline and
    comes back as (number, b"", an ``Oversize`` error).
    """
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            size = len(line)
            while (more := stream.readline(_SKIP_BLOCK)) and not more.endswith(b"\n"):
                size += len(more)
            size += len(more.rstrip(b"\r\n"))
            yield number, b"", Oversize(f"record is {size} bytes, over the {limit}-byte limit (max-record-bytes); "
                                        f"not read")
            continue
        stripped = line.rstrip(b"\r\n")
        if stripped.strip():
            yield number, stripped, None


def _detect_format(samples: list[bytes]) -> str:
    votes = Counter()
    for raw in samples:
        try:
            votes[detect(json.loads(raw))] += 1
        except (ValueError, RecursionError):
            continue
    votes.pop(None, None)
    return votes.most_common(1)[0][0] if votes else "openai"


def read_file(info: FileInfo, forced_format: str | None, start_index: int,
              max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, report_oversize: bool = False) -> Iterator[Record]:
    """Stream one file's records; fills `info` (records, sha256, size, format) as it goes.

    A record over ``max_record_bytes`` is an error record (F001) when
    ``report_oversize``, else the read stops with an error: a writer must not
    copy a record it did not read.
    """
    try:
        raw, hashed, stream = _open(info.path)
    except OSError as exc:
        raise CurateError(f"{info.path}: cannot read: {exc.strerror or exc}") from None
    try:
        with raw:
            for rec in _records(info, stream, forced_format, start_index, max_record_bytes):
                if isinstance(rec.error, Oversize) and not report_oversize:
                    raise CurateError(f"{info.path}:{rec.line}: {rec.error}; raise max-record-bytes in the "
                                      f"configuration to process it")
                yield rec
            while hashed.read(1 << 20):  # hash any trailing bytes a decoder did not consume
                pass
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeError, zlib.error) as exc:
        raise CurateError(f"{info.path}: cannot read: {exc}") from None
    info.sha256, info.size = hashed.sha.hexdigest(), hashed.count


def _records(info: FileInfo, stream, forced_format: str | None, start_index: int,
             limit: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Record]:
    if info.path.lower().endswith((".json", ".json.gz")):
        whole = stream.read()
        if whole.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            items = _peek(_json_array_elements(whole))
        else:
            items = _peek(_lines(io.BytesIO(whole), limit))
    else:
        items = _peek(_lines(stream, limit))
    head, items = items
    info.format = forced_format or _detect_format([b for _, b, err in head if not err])
    index = start_index
    for number, data, error in items:
        rec = Record(info.path, number, info.split, data, index=index, fmt=info.format, error=error)
        index += 1
        info.records += 1
        yield rec


def _peek(items):
    """(first DETECT_SAMPLE items, an iterator over all items)."""
    items = iter(items)
    head = []
    for item in items:
        head.append(item)
        if len(head) >= DETECT_SAMPLE:
            break

    def chained():
        yield from head
        yield from items

    return head, chained()
