"""Every rule's fixture cases produce exactly their snapshot: findings, and the fixed files.

Each rule has `fixtures/rules/<CODE>/`: dataset files, and `cases.toml` with named cases
(`[case.NAME]`: `files` to lint, `args` for the CLI, `config` written as the run's
curate.toml, `expected` `path:line: CODE` findings that must be among the snapshot's).
A case's snapshot `snapshots/NAME.json` holds every diagnostic (code, name, severity,
message, line, pointer, related locations) and, for a fixable rule, what `curate fix`
writes. `pytest --update-snapshots` rewrites the snapshots; see docs/testing.md.
"""

from __future__ import annotations

import json
import os

import pytest
from rule_cases import CASE_KEYS, ROOT, case_names, cases, copy_fixture, run_case


def _check_expectations(case: dict, lint: dict) -> None:
    """The hand-written `expected` findings and `related` locations hold in the run."""
    found = sorted(f"{d['path']}:{d['line']}: {d['code']}" for d in lint["diagnostics"])
    missing = list(case.get("expected", []))
    for f in found:
        if f in missing:
            missing.remove(f)
    assert not missing, f"expected findings not produced: {missing}"
    for item in case.get("related", []):
        at = [d for d in lint["diagnostics"] if f"{d['path']}:{d['line']}" == item["at"]]
        assert at, f"no finding at {item['at']}"
        assert [f"{r['path']}:{r['line']}" for r in at[0]["related"]] == item["to"]


@pytest.mark.parametrize(("code", "name"), [pytest.param(c, n, id=f"{c}-{n}") for c, n in case_names()])
def test_rule_case(code, name, tmp_path, monkeypatch, request):
    assert name != "<missing>", f"rule {code} has no fixtures/rules/{code}/cases.toml with a [case.NAME]"
    case = cases(code)[name]
    assert set(case) <= CASE_KEYS, f"unknown keys in [case.{name}]: {set(case) - CASE_KEYS}"
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.chdir(copy_fixture(code, tmp_path / code))
    actual = run_case(code, case, os.getcwd())
    _check_expectations(case, actual["lint"])
    if case.get("expected"):
        fired = {(d["path"], d["line"]) for d in actual["lint"]["diagnostics"]}
        assert actual["lint"]["records"] > len(fired), "the fixture needs records that must not fire"
    snap_path = os.path.join(ROOT, code, "snapshots", f"{name}.json")
    text = json.dumps(actual, indent=2, ensure_ascii=False) + "\n"
    if request.config.getoption("--update-snapshots"):
        os.makedirs(os.path.dirname(snap_path), exist_ok=True)
        with open(snap_path, "w", encoding="utf-8") as f:
            f.write(text)
    assert os.path.isfile(snap_path), f"no snapshot {snap_path}: run pytest --update-snapshots and review it"
    with open(snap_path, encoding="utf-8") as f:
        expected = json.load(f)
    assert actual == expected, f"{code}/{name} differs from its snapshot (pytest --update-snapshots to accept)"


def test_every_snapshot_has_a_case():
    """A renamed or deleted case leaves no stale snapshot behind."""
    stale = []
    for code in sorted(os.listdir(ROOT)):
        folder = os.path.join(ROOT, code, "snapshots")
        names = set(cases(code))
        if os.path.isdir(folder):
            stale += [f"{code}/{n}" for n in os.listdir(folder) if n.removesuffix(".json") not in names]
    assert stale == []
