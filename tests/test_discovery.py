"""Directory arguments: what is read, what is skipped, and which split each file gets."""

from __future__ import annotations

import json
import os

from curate.config import Config
from curate.discovery import discover, expand_paths
from curate.engine import lint_paths
from tests.conftest import conv, write_jsonl

REC = [conv("What is two plus two?", "Two plus two is four.")]


def names(root, *args, **kwargs) -> list[str]:
    return [os.path.relpath(p, root) for p in expand_paths([str(root)], *args, **kwargs)]


def test_skips_environments_hidden_and_curate_files(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", REC)
    for folder in (".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".cache", "sub"):
        (tmp_path / folder).mkdir()
        write_jsonl(tmp_path / folder / "x.jsonl", REC)
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    write_jsonl(tmp_path / ".hidden.jsonl", REC)
    write_jsonl(tmp_path / "train.rejects.jsonl", REC)
    write_jsonl(tmp_path / ".train.jsonl.abc123.tmp.jsonl", REC)
    (tmp_path / "cert.json").write_text(json.dumps({"tool": "curate", "files": []}, indent=2))
    (tmp_path / "array.json").write_text(json.dumps(REC, indent=2))
    (tmp_path / "notes.md").write_text("# notes\n")
    assert names(tmp_path) == ["array.json", os.path.join("sub", "x.jsonl"), "train.jsonl"]


def test_json_documents_are_not_records(tmp_path):
    """Model folders beside the data hold config.json, vocab.json, word lists: one document each."""
    (tmp_path / "vocab.json").write_text(json.dumps({f"tok{i}": i for i in range(5000)}))  # one long line
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}, indent=2))
    (tmp_path / "words.json").write_text(json.dumps(["corny", "align"], indent=4))
    (tmp_path / "lines.json").write_text("".join(json.dumps(r) + "\n" for r in REC * 2))
    (tmp_path / "records.json").write_text(json.dumps(REC))
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "broken.json").write_text("not json at all\n")
    assert names(tmp_path) == ["broken.json", "empty.json", "lines.json", "records.json"]
    assert expand_paths([str(tmp_path / "vocab.json")]) == [str(tmp_path / "vocab.json")]  # named: read
    os.mkfifo(tmp_path / "pipe.jsonl")  # skipped by the walk, never opened (it would block)
    assert "pipe.jsonl" not in names(tmp_path)


def test_honours_gitignore_with_negation_in_a_nested_file(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("raw/\n*.tmp.jsonl\ndata/*.jsonl\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ".gitignore").write_text("!keep.jsonl\n")
    (tmp_path / "raw").mkdir()
    for rel in ("raw/a.jsonl", "data/drop.jsonl", "data/keep.jsonl", "scratch.tmp.jsonl", "train.jsonl"):
        write_jsonl(tmp_path / rel, REC)
    assert names(tmp_path) == [os.path.join("data", "keep.jsonl"), "train.jsonl"]
    # the repository's root .gitignore applies when a subfolder is walked too
    assert names(tmp_path / "data") == ["keep.jsonl"]


def test_a_folder_git_ignores_is_walked_when_named(tmp_path):
    """`curate lint out/data` lints the files there although `/out/` is git-ignored (ruff and ripgrep
    walk a named folder too); a .gitignore inside the named folder still applies."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("/out/\n")
    (tmp_path / "out" / "data").mkdir(parents=True)
    (tmp_path / "out" / "data" / ".gitignore").write_text("scratch.jsonl\n")
    for rel in ("out/data/train.jsonl", "out/data/scratch.jsonl", "train.jsonl"):
        write_jsonl(tmp_path / rel, REC)
    assert names(tmp_path) == ["train.jsonl"]
    assert names(tmp_path / "out" / "data") == ["train.jsonl"]
    assert names(tmp_path / "out") == [os.path.join("data", "train.jsonl")]


def test_exclude_globs_are_relative_to_the_config_file(tmp_path, monkeypatch):
    for rel in ("data/legacy/a.jsonl", "data/train.jsonl", "data/train.bak.jsonl", "node_modules/x.jsonl"):
        os.makedirs(os.path.dirname(tmp_path / rel), exist_ok=True)
        write_jsonl(tmp_path / rel, REC)
    (tmp_path / "curate.toml").write_text('extend-exclude = ["data/legacy", "*.bak.jsonl"]\n')
    from curate.config import load_config

    cfg = load_config(str(tmp_path / "curate.toml"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for arg in (str(tmp_path), "..", os.path.join("..", "data")):
        found = [os.path.relpath(p, tmp_path) for p in expand_paths([arg], cfg)]
        assert found == [os.path.join("data", "train.jsonl")], arg
    # `exclude` replaces the default list (node_modules is read again), as in ruff
    cfg.exclude = []
    assert os.path.join("node_modules", "x.jsonl") in [os.path.relpath(p, tmp_path) for p in expand_paths([".."], cfg)]


def test_exclude_option_and_explicit_files(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", REC)
    os.makedirs(tmp_path / "old")
    write_jsonl(tmp_path / "old" / "train.jsonl", [{"messages": "broken"}])
    assert run("lint", ".", "--select", "F").exit_code == 1
    assert run("lint", ".", "--select", "F", "--exclude", "old").exit_code == 0
    assert run("lint", ".", "--select", "F", "--exclude", f"{tmp_path}/old/*.jsonl").exit_code == 0
    assert run("lint", "old/train.jsonl", "--select", "F", "--exclude", "old").exit_code == 1  # named: read


def test_empty_and_unreadable_folders_are_errors(run, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    write_jsonl(tmp_path / "empty" / "x.rejects.jsonl", REC)
    result = run("lint", "empty")
    assert result.exit_code == 2 and result.output.startswith("error: empty: no dataset files")
    write_jsonl(tmp_path / "train.jsonl", REC)
    (tmp_path / "locked").mkdir()
    scandir = os.scandir

    def denied(path="."):  # chmod 000 does not stop root, so refuse the listing itself
        if os.path.basename(os.fspath(path)) == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    result = run("lint", ".")
    assert result.exit_code == 2 and result.output == "error: ./locked: cannot read directory: Permission denied\n"


def test_lint_dot_in_this_repository_skips_its_virtual_environment(repo_root):
    found = expand_paths([repo_root])
    assert found and all(".venv" not in p.split(os.sep) and ".git" not in p.split(os.sep) for p in found)
    assert os.path.join(repo_root, "fixtures", "demo", "conversations.jsonl") in found


def test_a_file_given_twice_is_read_once(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", REC)
    assert [f.path for f in discover([str(tmp_path), path])] == [os.path.join(str(tmp_path), "train.jsonl")]


def splits_of(paths, **kwargs) -> dict[str, str]:
    result = lint_paths([str(p) for p in paths], Config(select=["F001"]), **kwargs)
    return {os.path.basename(os.path.dirname(f.path)) + "/" + os.path.basename(f.path): f.split for f in result.files}


def test_splits_from_folder_and_shard_names(tmp_path):
    for rel in (
        "data/train/part-0.jsonl",
        "data/validation/part-0.jsonl",
        "data/test-00000-of-00001.jsonl",
        "data/other/eval_notes.jsonl",
        "data/train/heldout_test.jsonl",
        "test_runs/data.jsonl",
    ):
        os.makedirs(os.path.dirname(tmp_path / rel), exist_ok=True)
        write_jsonl(tmp_path / rel, REC)
    assert splits_of([tmp_path]) == {
        "train/part-0.jsonl": "train",
        "validation/part-0.jsonl": "eval",
        "data/test-00000-of-00001.jsonl": "test",
        "other/eval_notes.jsonl": "eval",
        "train/heldout_test.jsonl": "train",
        "test_runs/data.jsonl": "unsplit",
    }
    # the folder given is a name too, and --split NAME=FOLDER beats it
    assert set(splits_of([tmp_path / "data" / "validation"]).values()) == {"eval"}
    got = splits_of([tmp_path / "data"], splits={str(tmp_path / "data" / "train"): "eval"})
    assert got["train/part-0.jsonl"] == "eval" and got["validation/part-0.jsonl"] == "eval"


def test_a_folder_above_the_argument_names_no_split(tmp_path):
    os.makedirs(tmp_path / "test" / "project")
    path = write_jsonl(tmp_path / "test" / "project" / "data.jsonl", REC)
    assert splits_of([tmp_path / "test" / "project"]) == {"project/data.jsonl": "unsplit"}
    assert splits_of([path]) == {"project/data.jsonl": "unsplit"}
    assert splits_of([tmp_path / "test"]) == {"project/data.jsonl": "test"}


def test_config_glob_beats_folder_name(tmp_path):
    os.makedirs(tmp_path / "train")
    path = write_jsonl(tmp_path / "train" / "a.jsonl", REC)
    result = lint_paths([path], Config(select=["F001"], splits={"eval": [path]}))
    assert [f.split for f in result.files] == ["eval"]


def test_a_dataset_folder_is_read_in_the_order_of_its_state_json(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    for name in ("data-b.arrow", "data-a.arrow", "cache-123.arrow"):
        (folder / name).write_bytes(b"")
    (folder / "dataset_info.json").write_text("{}")
    (folder / "state.json").write_text(
        json.dumps({"_data_files": [{"filename": "data-b.arrow"}, {"filename": "data-a.arrow"}]})
    )
    assert names(tmp_path) == [os.path.join("ds", "data-b.arrow"), os.path.join("ds", "data-a.arrow")]
