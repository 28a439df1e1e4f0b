"""Streaming readers for JSONL, gzipped JSONL and JSON array files, with exact line numbers."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from curate.errors import CurateError
from curate.filetype import JSON_SUFFIXES, reopened, sniff
from curate.formats import detect
from curate.locks import open_regular
from curate.records import Record

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
    source: str | None = None  # where the bytes are read from when not `path` (the gate's private snapshot)


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


def open_decoded(path: str):
    """(what to close, the hashing reader of the raw bytes, the decompressed stream), the compression
    recognised by content; regular files or `-` (stdin) only."""
    kind = sniff(path)
    raw, hashed, stream = _open(path)
    return raw, hashed, reopened(kind, path, hashed, stream)


def _open(path: str):
    """(what to close, the hashing reader of the raw bytes, the stream decompressed by suffix)."""
    raw: contextlib.AbstractContextManager
    if path == STDIN:
        raw, hashed = contextlib.nullcontext(), _HashingReader(sys.stdin.buffer)
    else:
        file = os.fdopen(open_regular(path), "rb")
        raw, hashed = file, _HashingReader(file)
    if path.lower().endswith(".gz"):
        return raw, hashed, gzip.GzipFile(fileobj=hashed, mode="rb")  # type: ignore[call-overload]  # duck-typed
    return raw, hashed, hashed


class _Item(NamedTuple):
    """One record as read: line, bytes, reader error, byte span, removal end, array ordinal."""

    line: int
    raw: bytes
    error: str | None
    start: int
    end: int
    stop: int
    element: int = 0


_BOM = b"\xef\xbb\xbf"
_SPACE = re.compile(r"[ \t\r\n]*")


def _skip(text: str, i: int) -> int:
    """The offset of the first character at or after `i` that is not JSON whitespace."""
    found = _SPACE.match(text, i)
    return found.end() if found else i


def _json_array_elements(data: bytes, limit: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[_Item]:
    """The items of a `.json` file: each element of a leading JSON array with its exact byte span,
    then any JSON lines after the array; a file that is no array is read as JSON lines.

    A malformed element is one item with an error, and reading resumes after it.
    """
    text = data.decode("latin-1")  # one character per byte: offsets are byte offsets
    i = _skip(text, len(_BOM) if data.startswith(_BOM) else 0)
    if not text.startswith("[", i):
        yield from _lines(io.BytesIO(data), limit=limit)
        return
    lines = _LineCounter(text)
    decoder = json.JSONDecoder(strict=False)  # control bytes inside strings are the record's F002, not the array's
    ordinal = 0
    i = _skip(text, i + 1)
    closed = text.startswith("]", i)
    while not closed and i < len(text):
        ordinal += 1
        try:
            end, error = decoder.raw_decode(text, i)[1], None
        except (ValueError, RecursionError) as exc:
            end = _resync(text, i)
            error = f"JSON array element does not parse: {getattr(exc, 'msg', 'nested too deeply')}"
        yield _Item(lines.at(i), data[i:end], error, i, end, end, ordinal)
        i = _skip(text, end)
        if text.startswith(",", i):
            i = _skip(text, i + 1)
            if text.startswith("]", i):
                ordinal += 1
                yield _Item(lines.at(i), b"", "trailing comma in JSON array", i, i, i, ordinal)
                closed = True
        elif text.startswith("]", i):
            closed = True
        elif i < len(text):
            ordinal += 1
            yield _Item(lines.at(i), b"", "expected ',' or ']' after a JSON array element", i, i, i, ordinal)
    if not closed:
        yield _Item(lines.at(i), b"", "JSON array is not closed with ']'", i, i, i, ordinal + 1)
        return
    end = i + 1
    if text[end:].strip(" \t\r\n"):
        yield from _lines(io.BytesIO(data[end:]), lines.at(end), end, limit)


class _LineCounter:
    """1-based line numbers of increasing offsets into a text."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.line


def _resync(text: str, i: int) -> int:
    """End of a malformed array element starting at `i`: the next ',' or ']' outside nested
    brackets and strings (a string also ends at a line break), trailing whitespace excluded."""
    depth, in_string, j, n = 0, False, i, len(text)
    while j < n:
        c = text[j]
        if in_string:
            if c == "\\":
                j += 1
            elif c in "\"\n":
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
        elif c in "]}":
            if depth == 0 and c == "]":
                break
            depth = max(depth - 1, 0)
        elif c == "," and depth == 0:
            break
        j += 1
    while j > i and text[j - 1] in " \t\r\n":
        j -= 1
    return j


def _lines(stream, first: int = 1, offset: int = 0, limit: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[_Item]:
    """Non-blank lines with their 1-based numbers and byte spans (`stop` past the line ending), in memory
    bounded by ``limit``: a longer line is skipped block by block up to its newline and comes back as an
    item with no bytes and an ``Oversize`` error."""
    pos, number = offset, first - 1
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            size = len(line)
            while (more := stream.readline(_SKIP_BLOCK)) and not more.endswith(b"\n"):
                size += len(more)
            record_size = size + len(more.rstrip(b"\r\n"))
            size += len(more)
            error = Oversize(f"record is {record_size} bytes, over the {limit}-byte limit (max-record-bytes); not read")
            yield _Item(number, b"", error, pos, pos, pos + size)
            pos += size
            continue
        stripped = line.rstrip(b"\r\n")
        if stripped.strip():
            yield _Item(number, stripped, None, pos, pos + len(stripped), pos + len(line))
        pos += len(line)


def _detect_format(samples: list[bytes]) -> str:
    votes: Counter[str] = Counter()
    for raw in samples:
        try:
            fmt = detect(json.loads(raw))
        except (ValueError, RecursionError):
            continue
        if fmt is not None:
            votes[fmt] += 1
    return votes.most_common(1)[0][0] if votes else "openai"


def read_file(
    info: FileInfo,
    forced_format: str | None,
    start_index: int,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    report_oversize: bool = False,
) -> Iterator[Record]:
    """Stream one file's records; fills `info` (records, sha256, size, format) as it goes.

    A record over ``max_record_bytes`` is an error record (F001) when
    ``report_oversize``, else the read stops with an error: a writer must not
    copy a record it did not read.
    """
    source = info.source or info.path
    kind = sniff(source)
    if kind is not None and kind.tabular:
        from curate.tabular import read_table

        yield from read_table(info, kind, forced_format, start_index)
        return
    try:
        raw, hashed, stream = _open(source)
        stream = reopened(kind, source, hashed, stream)
    except OSError as exc:
        raise CurateError(f"{info.path}: cannot read: {exc.strerror or exc}") from None
    try:
        with raw:
            for rec in _records(info, stream, forced_format, start_index, max_record_bytes):
                if isinstance(rec.error, Oversize) and not report_oversize:
                    raise CurateError(
                        f"{info.path}:{rec.line}: {rec.error}; raise max-record-bytes in the "
                        f"configuration to process it"
                    )
                yield rec
            while hashed.read(1 << 20):  # hash any trailing bytes a decoder did not consume
                pass
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeError, zlib.error) as exc:
        raise CurateError(f"{info.path}: cannot read: {exc}") from None
    info.sha256, info.size = hashed.sha.hexdigest(), hashed.count


def _records(
    info: FileInfo, stream, forced_format: str | None, start_index: int, limit: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[Record]:
    if info.path.lower().endswith(JSON_SUFFIXES):
        head, items = _peek(_json_array_elements(stream.read(), limit))
    else:
        head, items = _peek(_lines(stream, limit=limit))
    info.format = forced_format or _detect_format([item.raw for item in head if not item.error])
    index = start_index
    for item in items:
        rec = Record(
            info.path,
            item.line,
            info.split,
            item.raw,
            index=index,
            fmt=info.format,
            error=item.error,
            start=item.start,
            end=item.end,
            stop=item.stop,
            element=item.element,
        )
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
