"""Findings of dataset rules (D, L, C) behave like any other: baseline fingerprints, severity, per-file ignores."""

from __future__ import annotations

import json

import pytest
from conftest import conv, write_jsonl
from rule_cases import cases, copy_fixture, lint, prepare

A = conv("How many legs does a spider have?", "Spiders have eight legs.")
B = conv("What is the largest ocean?", "The Pacific Ocean is the largest.")
X = conv("Name a prime number above ten.", "Eleven is prime.")
Y = conv("What colour is the sky on a clear day?", "It is blue.")


def _fingerprints(run, *args) -> dict[tuple[str, int], str]:
    result = run("lint", *args, "--write-baseline", "baseline.json", "--exit-zero")
    assert result.exit_code == 0, result.output
    with open("baseline.json") as f:
        return {(x["path"], x["line"]): x["fingerprint"] for x in json.load(f)["findings"]}


def test_duplicate_fingerprints_follow_content_not_lines(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [A, B, A, B])
    before = _fingerprints(run, "train.jsonl", "--select", "D001")
    assert set(before) == {("train.jsonl", 3), ("train.jsonl", 4)}
    assert before["train.jsonl", 3] != before["train.jsonl", 4]  # different records, different keys
    write_jsonl(tmp_path / "train.jsonl", [X, Y, B, A, A, B])  # the same copies, on other lines
    after = _fingerprints(run, "train.jsonl", "--select", "D001")
    assert after == {("train.jsonl", 5): before["train.jsonl", 3], ("train.jsonl", 6): before["train.jsonl", 4]}


def test_leak_fingerprints_follow_content_not_lines(run, tmp_path):
    write_jsonl(tmp_path / "eval.jsonl", [A, B])
    write_jsonl(tmp_path / "train.jsonl", [X, A, B])
    before = _fingerprints(run, "train.jsonl", "eval.jsonl", "--select", "L001")
    assert set(before) == {("train.jsonl", 2), ("train.jsonl", 3)}
    assert before["train.jsonl", 2] != before["train.jsonl", 3]
    write_jsonl(tmp_path / "eval.jsonl", [Y, B, A])
    write_jsonl(tmp_path / "train.jsonl", [B, X, A])
    after = _fingerprints(run, "train.jsonl", "eval.jsonl", "--select", "L001")
    assert after == {("train.jsonl", 1): before["train.jsonl", 3], ("train.jsonl", 3): before["train.jsonl", 2]}


def test_a_baseline_keeps_moved_duplicates_known_and_reports_a_new_one(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [A, B, A])
    lint = ("lint", "train.jsonl", "--select", "D001", "--fail-on", "warning")
    assert run(*lint).exit_code == 1
    run(*lint, "--write-baseline", "baseline.json")
    write_jsonl(tmp_path / "train.jsonl", [X, A, B, A])
    assert run(*lint, "--baseline", "baseline.json").exit_code == 0
    write_jsonl(tmp_path / "train.jsonl", [X, A, B, A, B])
    result = run(*lint, "--baseline", "baseline.json", "--output-format", "json")
    assert result.exit_code == 1
    assert [(d["path"], d["line"]) for d in json.loads(result.output)["diagnostics"]] == [("train.jsonl", 5)]


DATASET_RULES = ["D001", "D002", "L001", "L002", "L003", "L004", "C001", "C002", "C003"]


def _fixture_findings(code, tmp_path, monkeypatch, config: dict) -> list[tuple[str, int, str, str]]:
    """(path, line, severity, message) of the rule's default fixture case run with extra `config`."""
    case = cases(code)["default"]
    folder = copy_fixture(code, tmp_path / code)
    monkeypatch.chdir(folder)
    merged = {**case.get("config", {}), **config}
    files, case = prepare({**case, "config": merged}, folder)
    return [(d["path"], d["line"], d["severity"], d["message"]) for d in lint(code, case, files)["diagnostics"]]


@pytest.mark.parametrize("code", DATASET_RULES)
def test_severity_override_applies_to_dataset_rules(code, tmp_path, monkeypatch):
    plain = _fixture_findings(code, tmp_path / "plain", monkeypatch, {})
    assert plain, f"{code}'s fixture fires"
    level = "info" if plain[0][2] != "info" else "error"
    overridden = _fixture_findings(code, tmp_path / "override", monkeypatch, {"severity": {code: level}})
    assert overridden == [(path, line, level, message) for path, line, _, message in plain]


@pytest.mark.parametrize("code", DATASET_RULES)
def test_per_file_ignores_apply_to_dataset_rules(code, tmp_path, monkeypatch):
    plain = _fixture_findings(code, tmp_path / "plain", monkeypatch, {})
    ignored_file = plain[0][0]
    kept = _fixture_findings(code, tmp_path / "ignore", monkeypatch, {"per-file-ignores": {ignored_file: [code]}})
    assert kept == [f for f in plain if f[0] != ignored_file]
    assert len(kept) < len(plain)
