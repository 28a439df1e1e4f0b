"""Shared helpers for the CLI tests."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from curate.cli import cli


def conv(user: str, assistant: str, system: str | None = None) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": messages + [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def write_jsonl(path, records) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return str(path)


@pytest.fixture
def run(monkeypatch, tmp_path):
    """Invoke the CLI inside tmp_path; returns click's Result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)

    def invoke(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def clean_records():
    topics = [
        "photosynthesis",
        "the water cycle",
        "binary search",
        "compound interest",
        "plate tectonics",
        "vaccines",
        "recursion",
        "inflation",
        "the French revolution",
        "black holes",
    ]
    return [
        conv(
            f"Explain {t} in two sentences, case {i}.",
            f"Here is a short explanation of {t}: it is a topic worth knowing, and case {i} shows it clearly.",
        )
        for i, t in enumerate(topics)
    ]


@pytest.fixture
def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_addoption(parser):
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="Rewrite fixtures/rules/*/snapshots/*.json from the current output (see docs/testing.md).",
    )
