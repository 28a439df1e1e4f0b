"""--jobs: workers give the findings one process gives, in the same order; the default is the usable cores."""

from __future__ import annotations

import json
import os
import sys

from curate import engine
from curate.config import Config
from curate.engine import lint_paths

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))

from synth import conversation  # noqa: E402

DEFECTS = [
    '{"messages": nope}',
    '{"messages": [{"role": "user", "content": " hi "}, {"role": "user", "content": "again"}]}',
    '{"messages": [{"role": "user", "content": "Calculate 2^3 + 3^2"}, {"role": "assistant", "content": "11"}]}',
    '{"messages": [{"role": "user", "content": "mail me at maria.lopez@gmail.com"}, {"role": "assistant", "content": "ok"}]}',
    '{"messages": [], "messages": [{"role": "user", "content": "x"}]}',
]


def _write(path, n: int) -> None:
    import random

    rng = random.Random(1)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write((DEFECTS[i % len(DEFECTS)] if i % 7 == 0 else json.dumps(conversation(rng, i))) + "\n")


def _brief(result):
    return [(d.code, d.path, d.line, d.pointer, d.message, d.fingerprint) for d in result.diagnostics]


def test_workers_find_what_one_process_finds_in_order(tmp_path, monkeypatch):
    path = tmp_path / "train.jsonl"
    _write(path, 400)
    monkeypatch.setattr(engine, "CHUNK", 25)  # 16 chunks: several in flight per worker
    config = Config(select=["F", "R", "C", "Q", "S"], ignore=["C001"])
    one = _brief(lint_paths([str(path)], config, jobs=1))
    two = _brief(lint_paths([str(path)], config, jobs=2))
    assert one == two
    assert {"F001", "R003", "C004", "S002", "F012"} <= {d[0] for d in one}


def test_jobs_default_to_the_usable_cores(run, tmp_path, monkeypatch):
    seen = []
    real = engine.lint_paths

    def spy(*args, **kwargs):
        seen.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "lint_paths", spy)
    _write(tmp_path / "train.jsonl", 3)
    run("lint", "train.jsonl", "--select", "F")
    run("lint", "train.jsonl", "--select", "F", "--jobs", "1")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert seen == [cores, 1]
    assert "usable CPU" in run("lint", "--help").output
