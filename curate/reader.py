"""Streaming readers for JSONL, gzipped JSONL and JSON array files, with exact line numbers."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from curate.errors import CurateError
from curate.filetype import JSON_SUFFIXES, reopened, sniff
from curate.formats import FORMATS, detect
from curate.records import Record

DETECT_SAMPLE = 64


@dataclass
class FileInfo:
    """One input file as read: what the certificate and the summary report."""

    path: str
    split: str
    format: str
    records: int = 0
    sha256: str = ""
    size: int = 0


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
    raw = open(path, "rb")
    hashed = _HashingReader(raw)
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


def _lines(stream) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers."""
    for number, line in enumerate(stream, 1):
        stripped = line.rstrip(b"\r\n")
        if stripped.strip():
            yield number, stripped


def _detect_format(samples: list[bytes]) -> str:
    votes = Counter()
    for raw in samples:
        try:
            votes[detect(json.loads(raw))] += 1
        except (ValueError, RecursionError):
            continue
    votes.pop(None, None)
    return votes.most_common(1)[0][0] if votes else "openai"


def read_file(info: FileInfo, forced_format: str | None, start_index: int) -> Iterator[Record]:
    """Stream one file's records; fills `info` (records, sha256, size, format) as it goes."""
    kind = sniff(info.path)
    if kind is not None and kind.tabular:
        from curate.tabular import read_table
        yield from read_table(info, kind, forced_format, start_index)
        return
    try:
        raw, hashed, stream = _open(info.path)
        stream = reopened(kind, info.path, hashed, stream)
    except OSError as exc:
        raise CurateError(f"{info.path}: cannot read: {exc.strerror or exc}") from None
    try:
        with raw:
            yield from _records(info, stream, forced_format, start_index)
            while hashed.read(1 << 20):  # hash any trailing bytes a decoder did not consume
                pass
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeError) as exc:
        raise CurateError(f"{info.path}: cannot read: {exc}") from None
    info.sha256, info.size = hashed.sha.hexdigest(), hashed.count


def _records(info: FileInfo, stream, forced_format: str | None, start_index: int) -> Iterator[Record]:
    if info.path.lower().endswith(JSON_SUFFIXES):
        whole = stream.read()
        if whole.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            items = _peek(_json_array_elements(whole))
        else:
            items = _peek((n, b, None) for n, b in _lines(iter(whole.splitlines(keepends=True))))
    else:
        items = _peek((n, b, None) for n, b in _lines(stream))
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
