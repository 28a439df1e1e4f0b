"""What a cross-record matcher reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Match:
    """A finding of one rule: record ``index`` against the earlier or protected record ``other``."""

    index: int
    other: int
    similarity: float = 1.0
    detail: str = ""
    count: int = 0
