"""Decode and parse one raw record into its canonical conversation."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

try:
    import orjson
except ImportError:  # optional: the stdlib decoder gives the same values, slower
    orjson = None  # type: ignore[assignment]

from curate.formats import FORMATS, reference_messages, to_messages
from curate.records import Record

BOM = b"\xef\xbb\xbf"
NUL = b"\x00"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def decode(raw: bytes) -> tuple[str, str | None]:
    """(text, encoding problem or None): BOMs and NUL bytes dropped, invalid UTF-8 replaced."""
    issue = None
    if raw.startswith(BOM):
        raw, issue = raw[len(BOM) :], "byte order mark (BOM) at the start of the line"
    if NUL in raw:
        issue = issue or f"NUL byte at column {raw.index(NUL) + 1}"
        raw = raw.replace(NUL, b"")
    try:
        return raw.decode("utf-8"), issue
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", errors="replace"), issue or f"invalid UTF-8 at byte {exc.start + 1}"


class _Repeats:
    """Set when an object of the text being decoded repeats a key (checked cheaply, by size)."""

    found = False


def _object(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        _Repeats.found = True
    return obj


class _Pairs(list):
    """An object kept as its (key, value) pairs, to name repeated keys."""


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_object)
_PAIRS_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_Pairs)


def loads(text: str):
    """json.loads that rejects NaN/Infinity; raises ValueError with a readable message.

    Where keys repeat, the last value wins (as in `json.loads`); `duplicate_keys` names them.
    """
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at column {exc.colno}") from None


# The end of a key token: its closing quote, optional whitespace, the colon.
_KEY_END = re.compile(r'"[ \t\n\r]*:')
_SPACED_KEY_END = re.compile(r'"[ \t\n\r]')
_KEY_TESTS: dict[type, tuple[Any, Any, Any]] = {
    str: ('":', _KEY_END, _SPACED_KEY_END),
    bytes: (b'":', re.compile(_KEY_END.pattern.encode()), re.compile(_SPACED_KEY_END.pattern.encode())),
}
# orjson reads an integer beyond 64 bits as a float; json.loads keeps it exact.
_BIG = 2.0**63


_SCALARS = (str, int, bool, type(None))


def _keys(value) -> int:
    """Keys of every object in `value`, or -1 where a float may be a big integer orjson rounded.

    orjson gives exact types (no subclasses), so `type(...) in` tests suffice.
    """
    kind = type(value)
    if kind is dict:
        n, items = len(value), value.values()
    elif kind is list:
        n, items = 0, value
    elif kind is float:
        return 0 if -_BIG < value < _BIG else -1
    else:
        return 0
    for item in items:
        if type(item) not in _SCALARS:
            k = _keys(item)
            if k < 0:
                return -1
            n += k
    return n


def fast_loads(text: str | bytes):
    """`loads` through orjson where it gives the same value: (value, True), or (None, False) to use `loads`.

    `text` may be a record's raw bytes: orjson then checks that they are UTF-8 (and fails where not).

    orjson keeps the last of repeated keys silently, rounds big integers and rejects lone surrogates and
    `1e400`: such text goes to the stdlib path. A repeated key leaves fewer keys in the parsed objects than
    key tokens in the text, and every key token ends in a quote and a colon (a string may hold more), so
    equal counts prove that no key repeats.
    """
    if orjson is None:
        return None, False
    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, RecursionError):
        return None, False
    try:
        keys = _keys(value)
    except RecursionError:
        return None, False
    if keys <= 0:
        return value, keys == 0
    colon, key_end, spaced_key_end = _KEY_TESTS[type(text)]
    if keys == text.count(colon) and not spaced_key_end.search(text):
        return value, True
    if keys == len(key_end.findall(text)):
        return value, True
    return None, False


def duplicate_keys(text: str) -> list[tuple[str, str]]:
    """(JSON pointer of the object, key) for every key an object of `text` repeats, in document order."""
    found: list[tuple[str, str]] = []

    def walk(value, pointer: str) -> None:
        if isinstance(value, _Pairs):
            seen: set = set()
            for key, item in value:
                if key in seen and (pointer, key) not in found:
                    found.append((pointer, key))
                seen.add(key)
                walk(item, f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{pointer}/{i}")

    with contextlib.suppress(RecursionError):  # nested too deeply to name every repeat: report those found
        walk(_PAIRS_DECODER.decode(text), "")
    return found


def parse(rec: Record) -> Record:
    """Fill data, error, encoding_issue and messages in place."""
    raw = rec.raw
    clean = not rec.error and NUL not in raw and not raw.startswith(BOM)  # orjson reads clean bytes as they are
    rec.data, done = fast_loads(raw) if clean else (None, False)
    if done:
        rec.encoding_issue = None
    else:
        text, rec.encoding_issue = decode(raw)
        if rec.error:
            return rec
        if not clean or rec.encoding_issue:  # the bytes were not tried, or are not UTF-8
            rec.data, done = fast_loads(text)
    if not done:
        _Repeats.found = False
        try:
            rec.data = loads(text)
        except ValueError as exc:
            rec.error = str(exc)
            return rec
        if _Repeats.found:
            rec.duplicate_keys = duplicate_keys(text)
    if rec.split == "reference":
        rec.messages = reference_messages(rec.data)
    else:
        rec.messages = to_messages(rec.data, FORMATS[rec.fmt])
    return rec
