"""A bad configuration is one `error:` line naming the problem, exit 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import conv, write_jsonl


@pytest.fixture
def data(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [conv("hi there", "hello")])
    return "x.jsonl"


def _error(run, data, name, body: bytes | str, *extra):
    Path(name).write_bytes(body if isinstance(body, bytes) else body.encode())
    result = run("lint", data, *extra)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    "body, needle",
    [
        ("tool = 5\n", "`tool` must be a table"),
        ("[tool]\ncurate = 5\n", "[tool.curate] must be a table"),
        ("[tool.curate\n", "invalid TOML"),
    ],
)
def test_broken_pyproject(run, data, body, needle):
    assert needle in _error(run, data, "pyproject.toml", body)


def test_utf16_config(run, data):
    assert "not UTF-8 (it is UTF-16)" in _error(run, data, "curate.toml", 'select = ["F"]\n'.encode("utf-16"))


def test_latin1_config(run, data):
    assert "not UTF-8" in _error(run, data, "curate.toml", 'select = ["F"] # caf\xe9\n'.encode("latin-1"))


def test_curate_toml_with_tool_table_gets_a_hint(run, data):
    line = _error(run, data, "curate.toml", '[tool.curate]\nselect = ["F"]\n')
    assert "top level" in line and "[tool.curate]" in line


@pytest.mark.parametrize(
    "table, needle",
    [
        ("[rules.D002]\nthreshold = 0", "D002.threshold must be in (0.0, 1.0], got 0"),
        ("[rules.D002]\nthreshold = 1.5", "D002.threshold must be in (0.0, 1.0]"),
        ("[rules.L002]\nthreshold = -0.1", "L002.threshold must be in"),
        ("[rules.D002]\nthreshold = nan", "must be a finite number"),
        ("[rules.D002]\nnum_perm = 1000000", "D002.num_perm must be in [16, 1024]"),
        ("[rules.D002]\nnum_perm = 1e6", "D002.num_perm must be an integer"),
        ("[rules.Q001]\nmin_examples = 0", "Q001.min_examples must be in [1"),
        ("[rules.C002]\nmin_records = 0", "C002.min_records must be in [1"),
        ("[rules.Q002]\nmax_tokens = -5", "Q002.max_tokens must be in [1"),
        ("[rules.Q002]\nmax_tokens = true", "Q002.max_tokens must be an integer"),
        ("[rules.F007]\nallowed_keys = [1]", "F007.allowed_keys must be a list of strings"),
        ("[rules.near-duplicate]\nthreshold = 2", "D002.threshold must be in"),
    ],
)
def test_rule_options_are_range_checked(run, data, table, needle):
    assert needle in _error(run, data, "curate.toml", table + "\n")


def test_good_options_pass(run, data):
    Path("curate.toml").write_text("[rules.D002]\nthreshold = 1\nnum_perm = 256\n[rules.Q001]\nmin_examples = 1\n")
    assert run("lint", data).exit_code in (0, 1)


def test_broken_explicit_config(run, data):
    result = run("lint", data, "--config", "nope.toml")
    assert result.exit_code == 2 and result.output.startswith("error: nope.toml: cannot read config")


def test_broken_pyproject_of_another_tool_is_skipped(run, data):
    Path("pyproject.toml").write_text("[tool.black\nline-length = 100\n")
    assert run("lint", data).exit_code == 0


def test_utf16_pyproject_for_curate_is_an_error(run, data):
    Path("pyproject.toml").write_bytes('[tool.curate]\nselect = ["F"]\n'.encode("utf-16"))
    result = run("lint", data)
    assert result.exit_code == 2 and "not UTF-8 (it is UTF-16)" in result.output


@pytest.mark.parametrize("option", ["--config", "--baseline"])
def test_a_fifo_config_or_baseline_is_refused_without_hanging(run, data, option):
    os.mkfifo("pipe")  # no writer: opening it for reading would block
    result = run("lint", data, option, "pipe")
    assert (
        result.exit_code == 2
        and result.output == "error: pipe: a FIFO, not a regular file (curate reads regular files, or `-` for stdin)\n"
    )
