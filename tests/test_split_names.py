"""One module owns split names: `--split` and the config's `splits` accept the same ones, with the same effect."""

from __future__ import annotations

import json

import click
import pytest
from conftest import conv, write_jsonl

from curate.cli import cli
from curate.formats import BUILTIN
from curate.output import REPORTERS
from curate.split_names import ASSIGNABLE, GROUP_OF, PROTECTED, SPLITS, TRAINING


def _leak_files(tmp_path):
    question = "What is the boiling point of water at sea level in degrees Celsius?"
    write_jsonl(tmp_path / "data.jsonl", [conv("hello there friend", "hi"), conv(question, "100")])
    write_jsonl(tmp_path / "bench.jsonl", [conv(question, "100")])


def _codes(result) -> list[tuple[str, int, str]]:
    return [(d["path"], d["line"], d["code"]) for d in json.loads(result.output)["diagnostics"]]


@pytest.mark.parametrize("name", ["reference", "eval", "test"])
def test_split_option_and_config_agree_on_protected_names(run, tmp_path, name):
    _leak_files(tmp_path)
    by_option = run(
        "lint",
        "data.jsonl",
        "bench.jsonl",
        "--split",
        f"{name}=bench.jsonl",
        "--select",
        "L001",
        "--output-format",
        "json",
    )
    (tmp_path / "curate.toml").write_text(f'[splits]\n{name} = ["bench.jsonl"]\n')
    by_config = run("lint", "data.jsonl", "bench.jsonl", "--select", "L001", "--output-format", "json")
    assert _codes(by_option) == _codes(by_config) == [("data.jsonl", 2, "L001")]


def test_unsplit_is_accepted_by_both_and_is_training_side(run, tmp_path):
    _leak_files(tmp_path)
    (tmp_path / "curate.toml").write_text('[splits]\nunsplit = ["bench.jsonl"]\n')
    by_config = run("lint", "data.jsonl", "bench.jsonl", "--select", "L001,D001", "--output-format", "json")
    by_option = run(
        "lint",
        "data.jsonl",
        "bench.jsonl",
        "--split",
        "unsplit=bench.jsonl",
        "--select",
        "L001,D001",
        "--output-format",
        "json",
    )
    # both files are training data: the copy is a duplicate, not a leak
    assert _codes(by_config) == _codes(by_option) == [("bench.jsonl", 1, "D001")]


def test_unknown_split_name_is_a_usage_error(run, tmp_path):
    _leak_files(tmp_path)
    result = run("lint", "data.jsonl", "--split", "holdout=data.jsonl")
    assert result.exit_code == 2
    assert "NAME in train, eval, test, unsplit, reference" in result.output


def test_groups_cover_every_split_once():
    assert set(GROUP_OF) == set(SPLITS) == set(ASSIGNABLE) == TRAINING | PROTECTED
    assert not TRAINING & PROTECTED


def _choices(command: str, option: str) -> list[str]:
    found = cli.get_command(click.Context(cli), command)
    assert found is not None
    params = {p.name: p for p in found.params}
    kind = params[option].type
    assert isinstance(kind, click.Choice)
    return list(kind.choices)


def test_cli_choices_come_from_the_registries():
    assert _choices("lint", "output_format") == list(REPORTERS)
    assert _choices("lint", "record_format") == list(BUILTIN)
    assert _choices("split", "record_format") == list(BUILTIN)
    assert all(callable(REPORTERS[name]) for name in REPORTERS)
