"""Findings counted per rule: `--statistics` in text and JSON output."""

from __future__ import annotations

from curate.registry import load_rules


def rule_counts(diagnostics) -> list[dict]:
    """[{code, name, count}], most frequent first."""
    rules = load_rules()
    counts: dict[str, int] = {}
    for d in diagnostics:
        counts[d.code] = counts.get(d.code, 0) + 1
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"code": code, "name": rules[code].name, "count": n} for code, n in rows]
