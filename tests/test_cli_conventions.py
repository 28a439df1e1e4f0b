"""CLI conventions: --exit-zero, -q, --color, --show-settings, --show-files, lint --fix, closed stdout."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from conftest import write_jsonl

from curate import cli as cli_module

BAD = ['{"messages": [', '[1, 2]']


@pytest.fixture
def bad(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD)
    return "train.jsonl"


def test_exit_zero(run, bad):
    result = run("lint", bad, "--select", "F", "--exit-zero")
    assert result.exit_code == 0 and "train.jsonl:1: F001" in result.output
    assert run("lint", "missing.jsonl", "--exit-zero").exit_code == 2


def test_quiet_levels(run, bad):
    loud = run("lint", bad, "--select", "F").output.splitlines()
    quiet = run("lint", bad, "--select", "F", "-q")
    assert quiet.exit_code == 1 and quiet.output.splitlines() == loud[:-1] and loud[-1].startswith("Found 2 errors")
    silent = run("lint", bad, "--select", "F", "-qq")
    assert silent.exit_code == 1 and silent.output == ""
    assert run("lint", bad, "--select", "F001", "--ignore", "F001", "-q").output == ""


def test_color_choices(run, bad, monkeypatch):
    assert "\x1b[" in run("lint", bad, "--select", "F", "--color", "always").output
    assert "\x1b[" not in run("lint", bad, "--select", "F", "--color", "never").output
    assert "\x1b[" not in run("lint", bad, "--select", "F").output  # not a terminal


def test_color_auto_honours_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli_module._use_color("auto", False) is True
    assert cli_module._use_color("auto", True) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli_module._use_color("auto", False) is False
    assert cli_module._use_color("always", False) is True


def test_show_settings(run, tmp_path):
    (tmp_path / "curate.toml").write_text('select = ["F", "D002"]\n[rules.D002]\nthreshold = 0.8\n')
    result = run("lint", "--show-settings")
    assert result.exit_code == 0
    sha = hashlib.sha256((tmp_path / "curate.toml").read_bytes()).hexdigest()
    first = result.output.splitlines()[0]
    assert first.endswith(f"curate.toml (found in the working directory, sha256 {sha})")
    assert "safety rules off: not selected: L001" in result.output
    assert "  D002  near-duplicate           warning   threshold=0.8 num_perm=128" in result.output.splitlines()
    assert "  F001  invalid-json             error" in result.output.splitlines()


def test_show_files(run, tmp_path, clean_records):
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "train.jsonl", clean_records)
    write_jsonl(tmp_path / "data" / "heldout.jsonl", clean_records[:3])
    write_jsonl(tmp_path / "data" / "alpaca.jsonl", [{"instruction": "a", "output": "b"}])
    (tmp_path / "curate.toml").write_text('[splits]\neval = ["data/heldout.jsonl"]\n')
    result = run("lint", "data", "--show-files")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "data/alpaca.jsonl   alpaca     unsplit   1 records",
        "data/heldout.jsonl  openai     eval      3 records",
        "data/train.jsonl    openai     train     10 records",
        "3 files, 14 records",
    ]


def test_lint_fix_points_at_curate_fix(run, bad):
    result = run("lint", bad, "--fix")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ") and "curate fix" in result.output


def _shell(tmp_path, command):
    return subprocess.run(
        f"{sys.executable} -m curate {command}", shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_closed_stdout_is_one_error_line(tmp_path, bad):
    result = _shell(tmp_path, f"lint {bad} --select F >&-")
    assert result.returncode == 2
    assert result.stderr == "error: cannot write the report to stdout: stdout is closed (use -o FILE)\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_stdout_is_one_error_line(tmp_path, bad):
    result = _shell(tmp_path, f"lint {bad} --select F > /dev/full")
    assert result.returncode == 2
    assert result.stderr == "error: cannot write the report to stdout: No space left on device (use -o FILE)\n"


def test_broken_pipe_is_silent(tmp_path):
    write_jsonl(tmp_path / "big.jsonl", BAD * 5000)
    result = _shell(tmp_path, "lint big.jsonl --select F | head -n 1")
    assert result.stdout == "big.jsonl:1: F001 invalid JSON: Expecting value at column 15\n"
    assert result.stderr == ""


def test_demo_script_prints_no_escapes_into_logs(repo_root):
    with open(os.path.join(repo_root, "fixtures", "demo", "run.sh")) as f:
        script = f.read()
    helpers = "\n".join(line for line in script.splitlines() if line.startswith(("if [ -t 1 ]", "step()")))
    assert helpers.count("\n") == 1
    result = subprocess.run(["bash", "-c", helpers + "\nstep 'a title' echo hi"], capture_output=True, text=True)
    assert result.stdout == "\n== a title\n$ echo hi\nhi\n"
