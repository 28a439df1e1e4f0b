"""Human output: `path:line: CODE message`, related locations below, then a summary.

Paths, messages and pointers are printed inert (control characters escaped), so
data can neither fake a diagnostic line nor send terminal escapes.
"""

from __future__ import annotations

import click

from curate.output.common import inert
from curate.output.statistics import rule_counts

STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


def render(result, diagnostics, statistics: bool = False, color: bool = False, quiet: int = 0) -> str:
    """The report; `quiet` 1 leaves out the summary, 2 prints nothing."""
    if quiet >= 2:
        return ""
    lines = []
    for d in diagnostics:
        code = click.style(d.code, fg=STYLE[d.severity], bold=True) if color else d.code
        where = f" [{inert(d.pointer)}]" if d.pointer else ""
        lines.append(f"{inert(d.path)}:{d.line}: {code} {inert(d.message)}{where}")
        for r in d.related:
            lines.append(f"    related: {inert(r.path)}:{r.line}")
    if statistics:
        lines += [f"{row['count']:>7}  {row['code']}  {row['name']}" for row in rule_counts(diagnostics)]
    if not quiet:
        lines.append(_summary(result, diagnostics))
    return "\n".join(lines) + "\n" if lines else ""


def _summary(result, diagnostics) -> str:
    by = {"error": 0, "warning": 0, "info": 0}
    for d in diagnostics:
        by[d.severity] += 1
    if not diagnostics:
        return f"All checks passed: {result.records} records in {len(result.files)} files."
    parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in by.items() if n]
    return f"Found {', '.join(parts)} in {result.records} records ({len(result.files)} files)."
