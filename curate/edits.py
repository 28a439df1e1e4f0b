"""Fixes as text edits: change the bytes of the values a fix touches and nothing else.

A fix function returns `Edit`s (a path of keys and indices from the record's root, and the
new value, or `DELETE` to drop a list element). `edit_record` locates each value's token in
the record's text and replaces only that token, so numbers, escapes, key order and spacing
elsewhere keep their bytes. `element_removals` and `copy_with` do the same for whole records
of a file.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from itertools import pairwise
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

DELETE = object()
_SPACE = re.compile(r"[ \t\r\n]*")

_DECODER = json.JSONDecoder()


class Edit(NamedTuple):
    """Set the value at `path` (keys and list indices from the record's root) to `value`."""

    path: tuple
    value: Any = DELETE


class NotEditable(Exception):
    """The record cannot be edited exactly; the message says why."""


def edit_record(raw: bytes, data: Any, edits: list[Edit]) -> bytes:
    """`raw` with each edited value's token replaced; raises NotEditable where that is not exact.

    `data` is the record as parsed; the result must parse to `data` with the edits applied.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotEditable("the record is not valid UTF-8") from None
    spans: list[tuple[int, int, str]] = []
    deletions: dict[tuple, set] = {}
    members: dict[int, list] = {}  # container start -> its members, each container scanned once
    for edit in edits:
        if edit.value is DELETE:
            deletions.setdefault(edit.path[:-1], set()).add(edit.path[-1])
        else:
            start, end = _locate(text, edit.path, members)
            spans.append((start, end, _token(text[start:end], edit.value)))
    for parent, indices in deletions.items():
        start, _ = _locate(text, parent, members)
        found = _members_of(text, start, members)
        spans += [(s, e, "") for s, e in element_removals([(s, e) for _, s, e in found], indices)]
    spans.sort()
    for (_, end, _), (start, _, _) in pairwise(spans):
        if start < end:
            raise NotEditable("two fixes overlap")
    for start, end, new in reversed(spans):
        text = text[:start] + new + text[end:]
    if json.loads(text) != apply_edits(data, edits):
        raise NotEditable("the edited record does not read back as the fix intended")
    return text.encode("utf-8")


def apply_edits(data: Any, edits: list[Edit]) -> Any:
    """`data` with the edits applied, copying only the containers on the edited paths
    (list deletions by descending index)."""
    root = {"": data}
    copied: set = set()
    order = sorted(
        edits,
        key=lambda e: (
            e.value is DELETE,
            [] if e.value is not DELETE else [-s if isinstance(s, int) else 0 for s in e.path],
        ),
    )
    for edit in order:
        holder = root
        for depth, step in enumerate(("",) + edit.path[:-1]):
            key = edit.path[:depth]
            if key not in copied:
                holder[step] = copy.copy(holder[step])
                copied.add(key)
            holder = holder[step]
        if edit.value is DELETE:
            del holder[edit.path[-1]]
        else:
            holder[edit.path[-1]] = edit.value
    return root[""]


def _locate(text: str, path: tuple, members: dict) -> tuple[int, int]:
    """Character span of the value at `path`."""
    start = _skip(text, 0)
    end = len(text.rstrip(" \t\r\n"))
    for step in path:
        found = _members_of(text, start, members)
        hits = [(s, e) for key, s, e in found if key == step]
        if len(hits) != 1:
            raise NotEditable(f"cannot locate {'/'.join(map(str, path))} exactly")
        start, end = hits[0]
    return start, end


def _members_of(text: str, start: int, members: dict) -> list:
    if start not in members:
        members[start] = list(_members(text, start))
    return members[start]


def _skip(text: str, i: int) -> int:
    """The offset of the first character at or after `i` that is not JSON whitespace."""
    found = _SPACE.match(text, i)
    return found.end() if found else i


def _value_end(text: str, i: int) -> int:
    try:
        return _DECODER.raw_decode(text, i)[1]
    except (ValueError, RecursionError):
        raise NotEditable("the record does not parse") from None


def _members(text: str, start: int) -> Iterator[tuple[Any, int, int]]:
    """(key or index, start, end) of each member of the object or array starting at `start`."""
    opener = text[start]
    if opener not in "{[":
        return
    i = _skip(text, start + 1)
    index = 0
    while text[i] not in "}]":
        if opener == "{":
            key, i = scanstring(text, i + 1)
            i = _skip(text, i) + 1  # past ':'
            i = _skip(text, i)
        else:
            key, index = index, index + 1
        value_end = _value_end(text, i)
        yield key, i, value_end
        i = _skip(text, value_end)
        if text[i] == ",":
            i = _skip(text, i + 1)


def _token(old: str, value: Any) -> str:
    """The JSON token for `value`: a slice of the old string token when the new string is part of
    the old one (so its escapes keep their style), else a fresh encoding in the old token's style."""
    if isinstance(value, str) and old.startswith('"'):
        body = old[1:-1]
        starts = _char_starts(body)
        current = json.loads(old)
        at = current.find(value)
        if len(starts) == len(current) + 1 and at >= 0:
            token = '"' + body[starts[at] : starts[at + len(value)]] + '"'
            if json.loads(token) == value:
                return token
    return json.dumps(value, ensure_ascii=old.isascii() and "\\u" in old)


def _char_starts(body: str) -> list[int]:
    """Offset in a string token's body where each decoded character starts, plus the body's end."""
    if "\\" not in body:
        return list(range(len(body) + 1))
    starts, i, n = [], 0, len(body)
    while i < n:
        starts.append(i)
        if body[i] != "\\":
            i += 1
        elif body[i + 1] != "u":
            i += 2
        elif _is_pair(body, i):
            i += 12
        else:
            i += 6
    starts.append(n)
    return starts


def _is_pair(body: str, i: int) -> bool:
    """A surrogate pair escape (one character once decoded) starts at body[i]."""
    try:
        high, low = int(body[i + 2 : i + 6], 16), int(body[i + 8 : i + 12], 16)
    except ValueError:
        return False
    return 0xD800 <= high < 0xDC00 and body.startswith("\\u", i + 6) and 0xDC00 <= low < 0xE000


def element_removals(spans: list[tuple[int, int]], removed: set[int]) -> list[tuple[int, int]]:
    """Spans to delete to drop the `removed` elements of a JSON array whose elements span `spans`.

    Each removed element goes with the separator after it (its comma and the whitespace up to the
    next element); removed elements after the last kept one go with the separator before them.
    What stays is byte for byte what was there, and still a JSON array.
    """
    kept = [i for i in range(len(spans)) if i not in removed]
    if not kept:
        return [(spans[0][0], spans[-1][1])] if spans else []
    last = kept[-1]
    out = [(spans[i][0], spans[i + 1][0]) for i in sorted(removed) if i < last]
    if last < len(spans) - 1:
        out.append((spans[last][1], spans[-1][1]))
    return out


def copy_with(source, out, changes: Iterable[tuple[int, int, bytes]], chunk: int = 1 << 20) -> None:
    """Copy the byte stream `source` to `out`, replacing each (start, end) span (in increasing,
    non-overlapping order) by its bytes."""
    pos = 0
    for start, end, new in changes:
        _copy(source, out, start - pos, chunk)
        _copy(source, None, end - start, chunk)
        out.write(new)
        pos = end
    while block := source.read(chunk):
        out.write(block)


def _copy(source, out, n: int, chunk: int) -> None:
    while n > 0:
        block = source.read(min(n, chunk))
        if not block:
            raise NotEditable("the file ended early: it changed while being fixed")
        if out is not None:
            out.write(block)
        n -= len(block)
