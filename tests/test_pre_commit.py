"""The pre-commit hooks: curate-lint on the files of a commit, curate-lint-all on the configured datasets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import conv, write_jsonl

HOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".pre-commit-hooks.yaml")


def _git(cwd, *args):
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )


def _try_repo(tmp_path, cwd, repo_root, hook_id, *args):
    pre_commit = shutil.which("pre-commit", path=os.path.dirname(sys.executable)) or "pre-commit"
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "PIP_CONSTRAINT": "", "NO_COLOR": "1"}
    return subprocess.run(
        [pre_commit, "try-repo", repo_root, hook_id, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_hooks_are_declared():
    yaml = pytest.importorskip("yaml")
    with open(HOOKS) as f:
        hooks = {h["id"]: h for h in yaml.safe_load(f)}
    assert set(hooks) == {"curate-lint", "curate-lint-all"}
    assert hooks["curate-lint"]["require_serial"] and "pass_filenames" not in hooks["curate-lint"]
    whole = hooks["curate-lint-all"]
    assert whole["pass_filenames"] is False and whole["always_run"] is True and whole["require_serial"]
    assert whole["entry"] == "curate lint --no-progress"  # no PATHS: the configured `paths`


def test_lint_without_paths_uses_configured_paths(run, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "sub").mkdir()
    leak = conv("Which gas do plants absorb for photosynthesis?", "Carbon dioxide.")
    write_jsonl(tmp_path / "data" / "train.jsonl", [leak])
    write_jsonl(tmp_path / "benchmarks" / "science.jsonl", [leak])
    (tmp_path / "curate.toml").write_text(
        'select = ["L"]\npaths = ["data", "benchmarks"]\n[splits]\nreference = ["benchmarks"]\n'
    )
    monkeypatch.chdir(tmp_path / "sub")
    result = run("lint")
    assert result.exit_code == 1 and "../data/train.jsonl:1: L001" in result.output, result.output
    (tmp_path / "curate.toml").write_text('select = ["L"]\n')
    result = run("lint")
    assert result.exit_code == 2 and "no PATHS given and no `paths` in the configuration" in result.output


@pytest.mark.slow
def test_hook_fails_on_bad_file_and_names_its_line(tmp_path, repo_root):
    data = tmp_path / "data"
    data.mkdir()
    _git(data, "init", "-q")
    good = [conv(f"What is {i} plus {i}?", f"{i} plus {i} is {2 * i}.") for i in range(5)]
    write_jsonl(data / "good.jsonl", good)
    write_jsonl(data / "bad.jsonl", good[:2] + ['{"messages": [{"role": "user"'])
    (data / "notes.txt").write_text("not a dataset {")
    _git(data, "add", ".")

    def hook(*files):
        return _try_repo(tmp_path, data, repo_root, "curate-lint", "--files", *files)

    bad = hook("bad.jsonl", "good.jsonl", "notes.txt")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.jsonl:3: F001" in bad.stdout
    assert "notes.txt" not in bad.stdout.split("curate lint", 1)[-1]
    ok = hook("good.jsonl")
    assert ok.returncode == 0, ok.stdout + ok.stderr


@pytest.mark.slow
def test_lint_all_hook_checks_a_train_file_against_unchanged_benchmarks(tmp_path, repo_root):
    repo = tmp_path / "data-repo"
    (repo / "data").mkdir(parents=True)
    (repo / "benchmarks").mkdir()
    _git(repo, "init", "-q")
    leak = conv("Which gas do plants absorb for photosynthesis?", "Carbon dioxide.")
    write_jsonl(repo / "benchmarks" / "science.jsonl", [leak])
    write_jsonl(repo / "data" / "train.jsonl", [conv("What is 2 plus 2?", "4.")])
    (repo / "curate.toml").write_text(
        'select = ["F", "L"]\npaths = ["data", "benchmarks"]\n[splits]\nreference = ["benchmarks"]\n'
    )
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "data")
    write_jsonl(repo / "data" / "train.jsonl", [conv("What is 2 plus 2?", "4."), leak])
    _git(repo, "add", "data/train.jsonl")
    per_file = _try_repo(tmp_path, repo, repo_root, "curate-lint", "--files", "data/train.jsonl")
    assert per_file.returncode == 0, per_file.stdout + per_file.stderr  # the benchmark is not among the files
    whole = _try_repo(tmp_path, repo, repo_root, "curate-lint-all", "--files", "data/train.jsonl")
    assert whole.returncode == 1, whole.stdout + whole.stderr
    assert "data/train.jsonl:2: L001" in whole.stdout
