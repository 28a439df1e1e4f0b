"""`--output-format json`: one object with version, summary and diagnostics (and statistics when asked)."""

from __future__ import annotations

import json

from curate import __version__
from curate.diagnostics import Summary
from curate.output.common import scrub
from curate.output.statistics import rule_counts


def render(result, diagnostics, statistics: bool = False) -> str:
    body = {
        "version": __version__,
        "summary": Summary.of(diagnostics, result.records, len(result.files)).to_dict(),
        "diagnostics": [d.to_dict() for d in diagnostics],
    }
    if statistics:
        body["statistics"] = rule_counts(diagnostics)
    return scrub(json.dumps(body, indent=2, ensure_ascii=False)) + "\n"
