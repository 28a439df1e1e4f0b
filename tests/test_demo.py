"""The README's first command: the demo pipeline runs end to end (lint, fix, split, certify, verify, train)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_pipeline_runs_end_to_end(repo_root):
    # demo-out/ is the README's output folder, git-ignored like a user's scratch folder: the named
    # folder must still be linted (the certificate step walks demo-out/data)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"], "NO_COLOR": "1"}
    script = os.path.join(repo_root, "fixtures", "demo", "run.sh")
    result = subprocess.run(["bash", script, "demo-out"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = os.path.join(repo_root, "demo-out")
    with open(os.path.join(out, "certificate.json"), encoding="utf-8") as f:
        certified = {entry["split"] for entry in json.load(f)["files"]}
    assert certified == {"train", "eval"}
    with open(os.path.join(out, "adapter", "train_report.json"), encoding="utf-8") as f:
        assert json.load(f)["status"] == "ok"
