"""How record values and keys appear in diagnostic messages and JSON pointers."""

from __future__ import annotations

import json
import re

_INVISIBLE = re.compile("[\x7f-\x9f\u200b-\u200f\u2060\ufeff]")


def short(value, limit: int = 40) -> str:
    """A value as JSON (invisible characters escaped), cut to `limit` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pointer_key(key: str) -> str:
    """A key escaped for a JSON pointer (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
