"""The `curate` command's start-up settings (curate.cli.main): run in a fresh interpreter each, as a user runs it."""

import gc
import json
import os
import subprocess
import sys

# Runs curate.cli.main with the given arguments, then prints what the process ended with.
PROBE = """
import gc, json, os, sys
sys.argv = ["curate", *sys.argv[1:]]
from curate.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps({"blas": os.environ.get("OPENBLAS_NUM_THREADS"), "numpy": "numpy" in sys.modules,
                  "gc": gc.get_threshold()}))
"""


def probe(tmp_path, *args, env=None):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | (env or {})
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(run.stdout.splitlines()[-1])


def small_file(tmp_path):
    line = {"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]}
    (tmp_path / "train.jsonl").write_text(json.dumps(line) + "\n")


def test_lint_runs_numpy_with_one_blas_thread_unless_the_user_chose(tmp_path):
    small_file(tmp_path)
    out = probe(tmp_path, "lint", "train.jsonl")
    assert out["blas"] == "1" and out["numpy"]
    assert probe(tmp_path, "lint", "train.jsonl", env={"OPENBLAS_NUM_THREADS": "4"})["blas"] == "4"


def test_train_and_export_keep_the_environment_and_the_collector(tmp_path):
    for command in ("train", "export"):
        out = probe(tmp_path, command, "--help")
        assert out["blas"] is None
        assert out["gc"] == list(gc.get_threshold())


def test_lint_runs_with_the_collector_thresholds_raised(tmp_path):
    from curate.cli import GC_THRESHOLDS

    small_file(tmp_path)
    assert probe(tmp_path, "lint", "train.jsonl")["gc"] == list(GC_THRESHOLDS) != list(gc.get_threshold())
