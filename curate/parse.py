"""Decode and parse one raw record into its canonical conversation."""

from __future__ import annotations

import json

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
        raw, issue = raw[len(BOM):], "byte order mark (BOM) at the start of the line"
    if NUL in raw:
        issue = issue or f"NUL byte at column {raw.index(NUL) + 1}"
        raw = raw.replace(NUL, b"")
    try:
        return raw.decode("utf-8"), issue
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", errors="replace"), issue or f"invalid UTF-8 at byte {exc.start + 1}"


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads(text: str):
    """json.loads that rejects NaN/Infinity; raises ValueError with a readable message."""
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at column {exc.colno}") from None


def parse(rec: Record) -> Record:
    """Fill data, error, encoding_issue and messages in place."""
    text, rec.encoding_issue = decode(rec.raw)
    if rec.error:
        return rec
    try:
        rec.data = loads(text)
    except ValueError as exc:
        rec.error = str(exc)
        return rec
    if rec.split == "reference":
        rec.messages = reference_messages(rec.data)
    else:
        rec.messages = to_messages(rec.data, FORMATS[rec.fmt])
    return rec
