"""The README stays true: its rule table comes from the rules' docs, its test command is CI's."""

from __future__ import annotations

import os
import re

from curate.cli import rule_table_markdown
from curate.registry import load_rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def test_rule_table_matches_rule_docs():
    readme = _read("README.md")
    table = re.search(r"<!-- rules:start -->\n(.*?)<!-- rules:end -->", readme, re.S).group(1)
    assert table == rule_table_markdown(load_rules().values()), (
        "README rule table is stale: paste `curate rule --output-format markdown` between the markers"
    )


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```sh\n(.*?)\n```", _read("README.md"), re.S)
    install_and_test = blocks[1].strip()
    assert "pytest" in install_and_test
    ci = _read(".ci/run")
    for step in install_and_test.split(" && "):
        assert step in ci, f"{step!r} from the README is not in .ci/run"


def test_every_rule_is_documented():
    for rule in load_rules().values():
        for section in ("What it does", "Why is this bad?", "Example", "Fix"):
            assert rule.section(section), f"{rule.code} lacks a '## {section}' section"
