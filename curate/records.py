"""The canonical conversation every record format becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

ROLES = ("system", "user", "assistant", "tool")


@dataclass(slots=True)
class Message:
    """One turn. `role` is canonical where the raw role maps to one, else the raw value as text."""

    role: str
    content: Any
    pointer: str
    role_key: str = ""
    content_key: str = ""
    raw: Any = None
    known_role: bool = True
    alias: bool = False
    weight: Any = None
    tool_calls: Any = None
    tool_call_id: Any = None
    text: str = field(init=False)  # the content as plain text, computed once

    @property
    def role_pointer(self) -> str:
        return f"{self.pointer}/{self.role_key}" if self.role_key else self.pointer

    @property
    def content_pointer(self) -> str:
        return f"{self.pointer}/{self.content_key}" if self.content_key else self.pointer

    def __post_init__(self):
        self.text = _plain_text(self.content)


def _plain_text(content: Any) -> str:
    """Content as plain text: text parts joined, anything else empty."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


@dataclass(slots=True)
class Record:
    """One line (or JSON array element) of a dataset file, parsed as far as it goes.

    `raw` is the bytes `start:end` of the (decompressed) file; removing the record deletes
    `start:stop` (a JSON line with its line ending). `element` is its 1-based ordinal in a
    JSON array (0 for a line). `duplicate_keys` lists (object pointer, key) for every key
    an object of the record repeats.
    """

    path: str
    line: int
    split: str
    raw: bytes
    index: int = 0
    data: Any = None
    error: str | None = None
    encoding_issue: str | None = None
    fmt: str | None = None
    messages: list[Message] | None = None
    start: int = 0
    end: int = 0
    stop: int = 0
    element: int = 0
    duplicate_keys: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ref(self) -> RecordRef:
        return RecordRef(self.path, self.line, self.split, self.index)


class RecordRef(NamedTuple):
    """Where a record lives; what dataset rules keep instead of the record."""

    path: str
    line: int
    split: str
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing calls on a RecordRef
