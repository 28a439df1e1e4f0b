"""GitLab Code Quality report: a JSON array of issues."""

from __future__ import annotations

import json

from curate.output.common import relative_uri

SEVERITY = {"error": "major", "warning": "minor", "info": "info"}


def render(result, diagnostics, statistics: bool = False) -> str:
    issues = [{
        "type": "issue",
        "check_name": d.code,
        "description": f"{d.code} {d.message}",
        "categories": ["Bug Risk"],
        "severity": SEVERITY[d.severity],
        "fingerprint": f"{d.fingerprint}-{i}",
        "location": {"path": relative_uri(d.path), "lines": {"begin": d.line}},
    } for i, d in enumerate(diagnostics)]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
