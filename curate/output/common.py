"""Helpers shared by reporters: paths as URIs, and hostile text made inert for each output."""

from __future__ import annotations

import os
import re
from urllib.parse import quote

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides and isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"  # compiled on first use: slow to compile


def relative_path(path: str) -> str:
    """A POSIX path relative to the working directory (as CI tools expect)."""
    rel = os.path.relpath(path) if os.path.isabs(path) else os.path.normpath(path)
    return scrub(rel.replace(os.sep, "/"))


def relative_uri(path: str) -> str:
    """`relative_path` percent-encoded as a URI reference (bytes a file name holds, not U+FFFD)."""
    rel = os.path.relpath(path) if os.path.isabs(path) else os.path.normpath(path)
    return quote(rel.replace(os.sep, "/").encode("utf-8", "surrogateescape"), safe="/")


def scrub(text: str) -> str:
    """Text any UTF-8 encoder accepts: lone surrogates (from `\\udc80` escapes or undecodable names) become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def inert(text: str) -> str:
    """Text safe to print on one terminal line: control, bidi and surrogate characters as escapes."""
    return _CONTROL.sub(_escape, text)


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def xml_text(text: str) -> str:
    """Text an XML 1.0 document may hold: characters XML forbids are dropped, lone surrogates replaced."""
    return re.sub(_NOT_XML, "", scrub(text))
