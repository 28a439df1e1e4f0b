"""``fix --engine ray`` and ``split --engine ray`` write shards that hold what the local engine writes, losing nothing.

One local Ray with 2 CPUs serves every test (the ``ray_session`` fixture, as in test_ray_engine.py);
the tests skip when Ray is not installed.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter

import pytest
from conftest import conv, write_jsonl

ray = pytest.importorskip("ray", exc_type=ImportError)

# Ray Data's own context warns about its deprecated settings when it is copied to a task
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data")


@pytest.fixture(scope="session")
def ray_session():
    from curate.rayengine.session import connect

    started = not ray.is_initialized()
    connect(None, 2)
    yield
    if started:
        ray.shutdown()


def words(rng: random.Random, n: int) -> str:
    return " ".join(f"w{rng.randrange(10**9)}" for _ in range(n))


def near(record: dict) -> dict:
    answer = record["messages"][1]["content"].split()
    answer[20] = "changed"
    return conv(record["messages"][0]["content"], " ".join(answer))


def planted(tmp_path, n: int = 1000) -> list[dict]:
    """A training set over several read batches with exact and near duplicates, leaks of bench.jsonl and
    records that the safe fixes edit (a role alias, padded whitespace), plus the benchmark itself."""
    rng = random.Random(7)
    bench = [conv(f"benchmark question {i} " + words(rng, 10), words(rng, 40)) for i in range(20)]
    write_jsonl(tmp_path / "bench.jsonl", bench)
    records = []
    for i in range(n):
        records.append(conv(f"question {i} " + words(rng, 8), words(rng, 40)))
        if i % 97 == 0:
            records.append(records[rng.randrange(len(records))])  # D001
        if i % 89 == 0:
            records.append(near(records[rng.randrange(len(records))]))  # D002
        if i % 150 == 0:
            records.append(bench[i // 150] if i % 300 else near(bench[i // 150]))  # L001, L002
        if i % 211 == 0:
            records.append(
                {
                    "messages": [
                        {"role": "human", "content": f"  alias {i} " + words(rng, 8)},
                        {"role": "assistant", "content": words(rng, 20) + "  "},
                    ]
                }
            )  # F006, F010
    return records


def shard_files(folder, prefix: str, suffix: str = ".jsonl") -> list[str]:
    names = sorted(n for n in os.listdir(folder) if n.startswith(prefix + "-") and n.endswith(suffix))
    return [os.path.join(folder, n) for n in names if (".rejects." in n) == (".rejects" in suffix)]


def lines_of(paths) -> list[bytes]:
    return [line for p in paths for line in open(p, "rb").read().splitlines()]


def entries_of(paths) -> list[dict]:
    return [json.loads(line) for line in lines_of(paths)]


def test_fix_unsafe_on_ray_keeps_and_rejects_what_the_local_engine_does(ray_session, run, tmp_path):
    from curate.config import Config
    from curate.rayengine.fix import fix_paths_ray

    write_jsonl(tmp_path / "train.jsonl", planted(tmp_path))
    original = (tmp_path / "train.jsonl").read_bytes().splitlines()
    local = run("fix", "train.jsonl", "--unsafe", "--reference", "bench.jsonl", "-o", "local.jsonl")
    assert local.exit_code == 0, local.output
    report = fix_paths_ray(["train.jsonl"], Config(), {}, ["bench.jsonl"], True, "out", 2, shard_records=300)
    assert report.describe().splitlines()[:2] == local.output.splitlines()[:2]  # the same counts, per rule
    kept_shards, reject_shards = (
        shard_files(tmp_path / "out", "train"),
        shard_files(tmp_path / "out", "train", ".rejects.jsonl"),
    )
    assert len(kept_shards) > 1 and kept_shards[0].endswith(f"train-00000-of-{len(kept_shards):05d}.jsonl")
    kept, rejected = lines_of(kept_shards), entries_of(reject_shards)
    assert kept == (tmp_path / "local.jsonl").read_bytes().splitlines()
    assert rejected == entries_of([tmp_path / "local.rejects.jsonl"])
    assert {r["code"] for r in rejected} == {"D001", "D002", "L001", "L002"}
    unchanged = Counter(line for line in kept if line in set(original))
    edited = len(kept) - sum(unchanged.values())
    assert len(kept) + len(rejected) == len(original)  # nothing lost: kept + rejected == input, edits aside
    rest = Counter(original) - Counter(r["record"].encode() for r in rejected) - unchanged
    assert sum(rest.values()) == edited > 0 and f"({edited} changed)" in local.output
    assert all(json.loads(line)["messages"][0]["role"] == "user" for line in kept if line not in unchanged)


def test_fix_on_ray_writes_parquet_shards_from_parquet(ray_session, run, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = planted(tmp_path, 300)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet", row_group_size=128)
    local = run("fix", "train.parquet", "--unsafe", "-o", "local.parquet")
    assert local.exit_code == 0, local.output
    result = run("fix", "train.parquet", "--unsafe", "--engine", "ray", "-o", "out")
    assert result.exit_code == 0, result.output
    shards = shard_files(tmp_path / "out", "train", ".parquet")
    assert shards and all(pq.read_schema(s).equals(pq.read_schema(tmp_path / "train.parquet")) for s in shards)
    kept = [row for s in shards for row in pq.read_table(s).to_pylist()]
    assert kept == pq.read_table(tmp_path / "local.parquet").to_pylist()
    rejected = entries_of(shard_files(tmp_path / "out", "train", ".rejects.jsonl"))
    assert rejected == entries_of([tmp_path / "local.rejects.jsonl"])
    assert len(kept) + len(rejected) == len(rows) and {r["code"] for r in rejected} == {"D001", "D002"}


def test_fix_on_ray_refuses_what_it_cannot_do(ray_session, run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [conv("a question here", "an answer")])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.jsonl").write_text("{}\n")
    for args, message in [
        (("--in-place",), "--in-place"),
        (("-o", "out", "--diff"), "--diff"),
        (("-o", "full"), "is not empty"),
        (("-o", "train.jsonl"), "is not a directory"),
    ]:
        result = run("fix", "train.jsonl", "--engine", "ray", *args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def clusters_of(n: int = 400) -> tuple[list[dict], list[tuple[dict, dict]]]:
    """Records with planted families (near copies, exact copies, shared prompts) and the pairs that must not
    be split apart."""
    rng = random.Random(11)
    records = [conv(f"question {i} " + words(rng, 8), words(rng, 40)) for i in range(n)]
    pairs = []
    for i in range(0, n, 10):
        pairs += [
            (records[i], near(records[i])),
            (records[i + 1], records[i + 1]),
            (records[i + 2], conv(records[i + 2]["messages"][0]["content"], "another answer " + words(rng, 9))),
        ]
    records += [b for _, b in pairs]
    rng.shuffle(records)
    return records, pairs


def test_split_on_ray_assigns_every_record_as_the_local_split(ray_session, run, tmp_path):
    records, pairs = clusters_of()
    write_jsonl(tmp_path / "data.jsonl", records)
    local = run("split", "data.jsonl", "--ratios", "0.8,0.1,0.1", "--seed", "5", "-o", "local")
    assert local.exit_code == 0, local.output
    result = run("split", "data.jsonl", "--ratios", "0.8,0.1,0.1", "--seed", "5", "-o", "out", "--engine", "ray")
    assert result.exit_code == 0, result.output
    split_of = {}
    for name in ("train", "eval", "test"):
        shards = shard_files(tmp_path / "out", name)
        assert lines_of(shards) == (tmp_path / "local" / f"{name}.jsonl").read_bytes().splitlines()
        split_of.update((line, name) for line in lines_of(shards))
    assert sorted(split_of) == sorted(set((tmp_path / "data.jsonl").read_bytes().splitlines()))
    assert {split_of[json.dumps(a).encode()] == split_of[json.dumps(b).encode()] for a, b in pairs} == {True}
    assert {"eval", "test"} <= set(split_of.values())
    shards = [f"out/{n}" for n in sorted(os.listdir(tmp_path / "out"))]
    lint = run(
        "lint",
        *shards,
        "--select",
        "L001,L002,L003",
        "--no-progress",
        *[f"--split={os.path.basename(p).split('-')[0]}={p}" for p in shards],
    )
    assert lint.exit_code == 0 and "All checks passed" in lint.output, lint.output


def test_split_on_ray_moves_what_the_lint_of_its_shards_finds(ray_session, run, tmp_path, monkeypatch):
    import numpy as np

    from curate.splitting import plan as split_module
    from curate.splitting.plan import SplitPlan

    records, _ = clusters_of(200)
    write_jsonl(tmp_path / "data.jsonl", records)
    # No links and no in-memory verification: only the lint of the written shards keeps families together.
    monkeypatch.setattr(split_module, "clusters", lambda feats, opts: np.arange(len(feats)))
    monkeypatch.setattr(SplitPlan, "leaking_records", lambda self: np.empty(0, np.int64))
    local = run("split", "data.jsonl", "--ratios", "0.6,0.4", "--seed", "2", "-o", "local")
    result = run("split", "data.jsonl", "--ratios", "0.6,0.4", "--seed", "2", "-o", "out", "--engine", "ray")
    assert result.exit_code == 0 and local.exit_code == 0, result.output + local.output
    moved = re.search(r"to train, (\d+) of them on the lint of the outputs", result.output)[1]
    assert int(moved) > 0 and f"to train, {moved} of them" in local.output
    for name in ("train", "eval"):
        assert joined(shard_files(tmp_path / "out", name)) == (tmp_path / "local" / f"{name}.jsonl").read_bytes()
    shards = [f"out/{n}" for n in sorted(os.listdir(tmp_path / "out"))]
    lint = run("lint", *shards, "--select", "L001,L002,L003", "--no-progress")
    assert lint.exit_code == 0 and "All checks passed" in lint.output, lint.output


def joined(paths) -> bytes:
    return b"".join(open(p, "rb").read() for p in paths)
