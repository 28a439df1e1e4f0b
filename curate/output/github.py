"""GitHub Actions workflow commands: one `::error file=...,line=...::message` per diagnostic."""

from __future__ import annotations

from curate.output.common import scrub

LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _data(s: str) -> str:
    return scrub(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(s: str) -> str:
    return _data(s).replace(":", "%3A").replace(",", "%2C")


def render(result, diagnostics, statistics: bool = False) -> str:
    out = []
    for d in diagnostics:
        title = _prop(f"{d.code} {d.name}")
        out.append(f"::{LEVEL[d.severity]} file={_prop(d.path)},line={d.line},title={title}::{_data(d.message)}")
    return "\n".join(out) + ("\n" if out else "")
