"""The real pre-commit tool runs the curate-lint hook from this repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import conv, write_jsonl

pytestmark = pytest.mark.slow


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def test_hook_fails_on_bad_file_and_names_its_line(tmp_path, repo_root):
    data = tmp_path / "data"
    data.mkdir()
    _git(data, "init", "-q")
    good = [conv(f"What is {i} plus {i}?", f"{i} plus {i} is {2 * i}.") for i in range(5)]
    write_jsonl(data / "good.jsonl", good)
    write_jsonl(data / "bad.jsonl", good[:2] + ['{"messages": [{"role": "user"']) 
    (data / "notes.txt").write_text("not a dataset {")
    _git(data, "add", ".")
    pre_commit = shutil.which("pre-commit", path=os.path.dirname(sys.executable)) or "pre-commit"
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "PIP_CONSTRAINT": "", "NO_COLOR": "1"}

    def hook(*files):
        return subprocess.run([pre_commit, "try-repo", repo_root, "curate-lint", "--files", *files],
                              cwd=data, capture_output=True, text=True, env=env, timeout=600)

    bad = hook("bad.jsonl", "good.jsonl", "notes.txt")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.jsonl:3: F001" in bad.stdout
    assert "notes.txt" not in bad.stdout.split("curate lint", 1)[-1]
    ok = hook("good.jsonl")
    assert ok.returncode == 0, ok.stdout + ok.stderr
