"""Diagnostics: what a rule reports, where, and how bad."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class Location(NamedTuple):
    """A related place: another record that takes part in the finding."""

    path: str
    line: int


@dataclass(slots=True)
class Finding:
    """What a rule yields: the engine adds code, severity and, for record rules, the location."""

    message: str
    pointer: str | None = None
    related: tuple[Location, ...] = ()
    path: str | None = None
    line: int | None = None
    fingerprint: str | None = None
    record: int | None = None  # a dataset rule's record index (what `fix` removes)
    severity: str | None = None  # a lower default for this finding; a configured severity overrides it


@dataclass(slots=True)
class Diagnostic:
    """One finding, located at `path:line` (1-based), with an optional JSON pointer."""

    code: str
    name: str
    severity: str
    message: str
    path: str
    line: int
    pointer: str | None = None
    related: tuple[Location, ...] = ()
    fingerprint: str = ""
    record: int | None = None  # the run's index of the record, where a dataset rule gives it

    def sort_key(self, file_order: dict[str, int]):
        return (
            file_order.get(self.path, len(file_order)),
            self.path,
            self.line,
            self.code,
            self.pointer or "",
            self.message,
        )

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "pointer": self.pointer,
            "related": [{"path": r.path, "line": r.line} for r in self.related],
        }


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


@dataclass
class Summary:
    """Counts the reporters print."""

    records: int = 0
    files: int = 0
    by_code: dict = field(default_factory=dict)
    by_severity: dict = field(default_factory=dict)

    @classmethod
    def of(cls, diagnostics, records: int, files: int) -> Summary:
        s = cls(records, files, {}, {sev: 0 for sev in reversed(SEVERITIES)})
        for d in diagnostics:
            s.by_code[d.code] = s.by_code.get(d.code, 0) + 1
            s.by_severity[d.severity] += 1
        s.by_code = dict(sorted(s.by_code.items()))
        return s

    def to_dict(self) -> dict:
        return {"records": self.records, "files": self.files, "by_code": self.by_code, "by_severity": self.by_severity}
