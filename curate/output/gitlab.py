"""GitLab Code Quality report: a JSON array of issues.

Fingerprints key on the rule, the file, the record's content and the pointer
(like the baseline), not on line numbers or positions in the report, so an
issue keeps its fingerprint when lines move or other findings come and go.
"""

from __future__ import annotations

import hashlib
import json

from curate.output.common import relative_path, scrub

SEVERITY = {"error": "major", "warning": "minor", "info": "info"}


def fingerprints(diagnostics) -> list[str]:
    """One stable, unique fingerprint per diagnostic (repeats of one key are numbered in report order)."""
    seen: dict[str, int] = {}
    out = []
    for d in diagnostics:
        key = f"{d.fingerprint}\0{relative_path(d.path)}"
        n = seen[key] = seen.get(key, -1) + 1
        out.append(hashlib.sha256(f"{key}\0{n}".encode("utf-8", "surrogatepass")).hexdigest()[:32])
    return out


def render(result, diagnostics, statistics: bool = False) -> str:
    issues = [
        {
            "type": "issue",
            "check_name": d.code,
            "description": f"{d.code} {d.message}",
            "categories": ["Bug Risk"],
            "severity": SEVERITY[d.severity],
            "fingerprint": fp,
            "location": {"path": relative_path(d.path), "lines": {"begin": d.line}},
        }
        for d, fp in zip(diagnostics, fingerprints(diagnostics))
    ]
    return scrub(json.dumps(issues, indent=2, ensure_ascii=False)) + "\n"
