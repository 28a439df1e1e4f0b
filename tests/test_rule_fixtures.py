"""Every rule fires exactly where its fixture says, and nowhere else.

Each rule has `fixtures/rules/<CODE>/`: dataset files holding records that must
fire the rule and records that must not, and `case.toml` with the expected
`path:line: CODE` findings (plus optional extra CLI arguments).
"""

from __future__ import annotations

import json
import os
import tomllib

import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.registry import load_rules

ROOT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "rules")
CODES = list(load_rules())


def _case(code):
    with open(os.path.join(ROOT, code, "case.toml"), "rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize("code", CODES)
def test_rule_fixture(code, monkeypatch):
    folder = os.path.join(ROOT, code)
    assert os.path.isfile(os.path.join(folder, "case.toml")), f"rule {code} has no fixture"
    case = _case(code)
    monkeypatch.chdir(folder)
    paths = case.get("paths") or sorted(p for p in os.listdir(".") if p != "case.toml")
    args = ["lint", *paths, "--select", code, "--output-format", "json", "--no-progress", *case.get("args", [])]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    found = sorted(f"{d['path']}:{d['line']}: {d['code']}" for d in report["diagnostics"])
    assert found == sorted(case["expected"])
    fired = {(d["path"], d["line"]) for d in report["diagnostics"]}
    assert report["summary"]["records"] > len(fired), "the fixture needs records that must not fire"
    for d in report["diagnostics"]:
        for pointer_line in case.get("related", []):
            if pointer_line["at"] == f"{d['path']}:{d['line']}":
                assert [f"{r['path']}:{r['line']}" for r in d["related"]] == pointer_line["to"]
