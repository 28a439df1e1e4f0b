"""Config globs match paths relative to the config file, however the paths are typed."""

from __future__ import annotations

import json
import os

import pytest
from conftest import conv, write_jsonl

from curate.config import CWD, DEFAULTS, EXPLICIT, UPWARD, Config, describe_origin, disabled_safety_rules, load_config

CONFIG = """\
select = ["F", "L"]
[splits]
eval = ["benchmarks/*.jsonl"]
[per-file-ignores]
"data/legacy.jsonl" = ["F001"]
"""


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "benchmarks").mkdir()
    (root / "sub").mkdir()
    (tmp_path / "elsewhere").mkdir()
    question = conv("What is the capital of Australia, and why not Sydney?", "Canberra; it was chosen as a compromise.")
    others = [conv(f"Give me fact number {i} about rivers.", f"Rivers fact {i}: they flow downhill.") for i in range(4)]
    write_jsonl(root / "data" / "train.jsonl", others + [question])
    write_jsonl(root / "data" / "legacy.jsonl", others[:1] + ['{"messages": ['])
    write_jsonl(root / "benchmarks" / "qa.jsonl", [question])
    (root / "curate.toml").write_text(CONFIG)
    return root


def _findings(run, *args):
    result = run("lint", *args, "--output-format", "json")
    assert result.exit_code in (0, 1), result.output
    body = json.loads(result.output)
    return sorted((os.path.realpath(d["path"]), d["line"], d["code"]) for d in body["diagnostics"])


def test_same_findings_four_ways(run, repo, monkeypatch):
    root = str(repo)
    monkeypatch.chdir(root)
    expected = _findings(run, "data", "benchmarks")
    assert (os.path.realpath(f"{root}/data/train.jsonl"), 5, "L001") in expected
    assert not any(p.endswith("legacy.jsonl") and code == "F001" for p, _, code in expected)
    assert _findings(run, f"{root}/data", f"{root}/benchmarks") == expected
    assert _findings(run, "./data/", "sub/../benchmarks") == expected
    monkeypatch.chdir(repo / "sub")
    assert _findings(run, "../data", "../benchmarks") == expected
    monkeypatch.chdir(repo.parent / "elsewhere")
    assert _findings(run, "--config", "../repo/curate.toml", "../repo/data", "../repo/benchmarks") == expected


def test_glob_forms(tmp_path):
    (tmp_path / "curate.toml").write_text("")
    cfg = load_config(str(tmp_path / "curate.toml"))
    path = str(tmp_path / "data" / "eval" / "part-0.jsonl")
    assert cfg.relpath(path) == "data/eval/part-0.jsonl"
    for pattern in (
        "data/eval/*.jsonl",
        "./data/**",
        "data/eval",
        "data",
        "eval",
        "part-*.jsonl",
        "*.jsonl",
        str(tmp_path / "data"),
        "**/eval/*.jsonl",
        "**/data/eval",
    ):
        assert cfg.matches(path, pattern), pattern
    for pattern in ("eval/*.jsonl", "other", "data/train/*"):
        assert not cfg.matches(path, pattern), pattern


def test_how_the_config_was_found(tmp_path, monkeypatch):
    (tmp_path / "curate.toml").write_text('select = ["F"]\n')
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert load_config().found_by == CWD
    assert load_config("curate.toml").found_by == EXPLICIT
    monkeypatch.chdir(tmp_path / "deep" / "er")
    found = load_config()
    assert found.found_by == UPWARD and found.base_dir == os.path.realpath(tmp_path)
    assert "upward search" in describe_origin(found) and found.file_sha256 in describe_origin(found)
    assert disabled_safety_rules(found) and "L001" in disabled_safety_rules(found)[0]
    assert Config().found_by == DEFAULTS and describe_origin(Config()).startswith("no configuration file")


def test_disabled_safety_rules(tmp_path):
    (tmp_path / "curate.toml").write_text(
        '[per-file-ignores]\n"*" = ["ALL"]\n"x.jsonl" = ["S001"]\n[severity]\nL001 = "warning"\n'
    )
    found = disabled_safety_rules(load_config(str(tmp_path / "curate.toml")))
    assert found == [
        "per-file-ignores '*': ALL",
        "per-file-ignores 'x.jsonl': S001",
        "severity lowered below error: L001",
    ]
    assert disabled_safety_rules(Config()) == []
