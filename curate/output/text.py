"""Human output: `path:line: CODE message`, related locations below, then a summary."""

from __future__ import annotations

import click

from curate.registry import load_rules

STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


def render(result, diagnostics, statistics: bool = False, color: bool = False) -> str:
    lines = []
    for d in diagnostics:
        code = click.style(d.code, fg=STYLE[d.severity], bold=True) if color else d.code
        where = f" [{d.pointer}]" if d.pointer else ""
        lines.append(f"{d.path}:{d.line}: {code} {d.message}{where}")
        for r in d.related:
            lines.append(f"    related: {r.path}:{r.line}")
    if statistics:
        lines += _statistics(diagnostics)
    lines.append(_summary(result, diagnostics))
    return "\n".join(lines) + "\n"


def _statistics(diagnostics) -> list[str]:
    rules = load_rules()
    counts: dict[str, int] = {}
    for d in diagnostics:
        counts[d.code] = counts.get(d.code, 0) + 1
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [f"{n:>7}  {code}  {rules[code].name}" for code, n in rows]


def _summary(result, diagnostics) -> str:
    by = {"error": 0, "warning": 0, "info": 0}
    for d in diagnostics:
        by[d.severity] += 1
    if not diagnostics:
        return f"All checks passed: {result.records} records in {len(result.files)} files."
    parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in by.items() if n]
    return f"Found {', '.join(parts)} in {result.records} records ({len(result.files)} files)."
