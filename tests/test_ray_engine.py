"""``--engine ray`` gives what the local engine gives: the same records read, the same lint output.

One local Ray with 2 CPUs serves every test here (the ``ray_session`` fixture); the tests skip when
Ray is not installed (the ``ray`` extra), except the one that checks the error saying so.
"""

from __future__ import annotations

import gzip
import json
import os
import sys

import pytest

from curate.engine import stream_order
from curate.reader import FileInfo, read_file

# Ray Data's own context warns about its deprecated settings when it is copied to a task
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data")


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray with 2 CPUs for every test that asks; they skip when Ray is not installed."""
    ray = pytest.importorskip("ray", exc_type=ImportError)
    from curate.rayengine.session import connect

    started = not ray.is_initialized()
    connect(None, 2)
    yield
    if started:
        ray.shutdown()


def _conv(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}


def _inputs(tmp_path) -> list[str]:
    """One file of every input kind: JSONL (with a blank and a broken line), gzip, JSON array, Parquet, CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = [_conv(i) for i in range(1200)]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n\n{broken\n")
    with gzip.open(tmp_path / "more.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(r) for r in recs[:30]))
    (tmp_path / "eval.json").write_text(json.dumps(recs[:20], indent=1))
    pq.write_table(pa.Table.from_pylist(recs[:40]), tmp_path / "data.parquet")
    (tmp_path / "qa.csv").write_text("prompt,completion\nhi,there\nfoo,bar\n")
    return [str(tmp_path / n) for n in ("train.jsonl", "more.jsonl.gz", "eval.json", "data.parquet", "qa.csv")]


def _infos(paths: list[str]) -> list[FileInfo]:
    return [FileInfo(p, "eval" if "eval" in p else "train", "") for p in paths]


def _key(rec) -> tuple:
    return (rec.index, rec.path, rec.line, rec.split, rec.raw, rec.fmt, rec.error, rec.start, rec.end, rec.stop,
            rec.element)  # fmt: skip


def test_read_records_numbers_every_record_as_the_local_reader(ray_session, tmp_path):
    from curate.rayengine.read import read_records, to_records

    paths = _inputs(tmp_path)
    infos, local_infos = _infos(paths), _infos(paths)
    got = [r for b in read_records(infos, None, 1 << 20).iter_batches(batch_format="pyarrow") for r in to_records(b)]
    expected, index = [], 0
    for info in stream_order(local_infos):
        for rec in read_file(info, None, index, 1 << 20, report_oversize=True):
            expected.append(rec)
            index += 1
    assert [_key(r) for r in got] == [_key(r) for r in expected]
    assert got[0].path.endswith("eval.json") and got[0].index == 0  # protected splits are numbered first
    assert [(i.format, i.records, i.sha256, i.size) for i in infos] == [
        (i.format, i.records, i.sha256, i.size) for i in local_infos
    ]


def test_read_records_reports_an_unreadable_file(ray_session, tmp_path):
    from curate.errors import CurateError
    from curate.rayengine.read import read_records

    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b"".join(json.dumps(_conv(i)).encode() + b"\n" for i in range(2000)))[:-20])
    with pytest.raises(CurateError, match="bad.jsonl.gz: cannot read"):
        read_records(_infos([str(bad)]), None, 1 << 20)


def test_every_rule_fixture_case_lints_as_its_snapshot(ray_session, tmp_path, monkeypatch):
    """All cases in one test (one warm Ray); the local engine is held to the same snapshots by
    test_rule_fixtures.py, so equal snapshots mean equal output."""
    import rule_cases

    from curate.rayengine import lint as ray_lint

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    differing = []
    for code, name in rule_cases.case_names():
        # tiny inputs search on the driver, as by default; the Ray search stages cost about 13 s a case
        # here, and test_planted_set_lints_identically_on_both_engines runs them on all four rules
        monkeypatch.setattr(ray_lint, "SEARCH_ON_RAY_FROM", 10**9)
        case = rule_cases.cases(code)[name]
        monkeypatch.chdir(rule_cases.copy_fixture(code, tmp_path / f"{code}-{name}"))
        files, case = rule_cases.prepare(case, os.getcwd())
        case = {**case, "args": [*case.get("args", []), "--engine", "ray", "--jobs", "2"]}
        report = rule_cases.lint(code, case, files)
        with open(os.path.join(rule_cases.ROOT, code, "snapshots", f"{name}.json"), encoding="utf-8") as f:
            expected = json.load(f)["lint"]
        if {"records": report["summary"]["records"], "diagnostics": report["diagnostics"]} != expected:
            differing.append(f"{code}/{name}")
    assert not differing


def _planted(folder, n: int, seed: int = 7) -> list[str]:
    """bench/synth.py's planted train/eval set (exact and near duplicates, exact and near leaks), plus
    prompt leaks, n-gram contamination and contradictions appended to train."""
    import random
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
    from synth import conversation, write_planted

    truth = write_planted(str(folder), n, seed=seed)
    rng = random.Random(seed)
    with open(truth["eval"], encoding="utf-8") as f:
        evals = [json.loads(line) for line in f][:40]
    extra = []
    for i, rec in enumerate(evals[:20]):  # prompt leaks: an eval prompt with another answer
        msgs = [m for m in rec["messages"] if m["role"] != "assistant"][:2]
        extra.append({"messages": [*msgs, {"role": "assistant", "content": f"A different answer number {i}."}]})
    for rec in evals[20:]:  # n-gram contamination: 20 words of an eval answer inside another conversation
        words = rec["messages"][-1]["content"].split()
        host = conversation(rng, 10**6 + len(extra))
        host["messages"][-1]["content"] += " " + " ".join(words[:20])
        extra.append(host)
    for i in range(30):  # contradictions: one question, two conflicting numeric answers
        question = f"What is {i + 11} times {i + 3} in ticket {i}?"
        for answer in ((i + 11) * (i + 3), (i + 11) * (i + 3) + 2):
            pair = [{"role": "user", "content": question}, {"role": "assistant", "content": f"It is {answer}."}]
            extra.append({"messages": pair})
    with open(truth["train"], "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in extra)
    return [truth["train"], truth["eval"]]


def _lint_json(paths: list[str], *args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from curate.cli import cli

    result = CliRunner().invoke(cli, ["lint", *paths, "--output-format", "json", "--no-progress", *args])
    return result.exit_code, result.output


def _driver_search(*args):
    raise AssertionError("the driver's matcher ran on --engine ray")


def test_planted_set_lints_identically_on_both_engines(ray_session, tmp_path, monkeypatch):
    """Identical output; D001, D002, L001 and L002 are searched by Ray stages, not by the driver's matchers."""
    from curate.crossrecord.matching import MATCHERS
    from curate.rayengine import lint as ray_lint
    from curate.rayengine.rows import MOVED

    monkeypatch.setattr(ray_lint, "SEARCH_ON_RAY_FROM", 0)  # 3,000 records: below the default
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    paths = [os.path.basename(p) for p in _planted(tmp_path, 3000)]
    local = _lint_json(paths, "--jobs", "1")
    for code in MOVED:
        monkeypatch.setitem(MATCHERS, code, _driver_search)
    ray_run = _lint_json(paths, "--engine", "ray", "--jobs", "2")
    assert ray_run == local
    by_code = json.loads(local[1])["summary"]["by_code"]
    assert {"D001", "D002", "L001", "L002", "L003", "L004", "C001"} <= set(by_code)  # every planted kind fires


def test_missing_ray_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_text(json.dumps(_conv(1)) + "\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when it is not installed
    code, output = _lint_json(["a.jsonl"], "--engine", "ray")
    assert code == 2
    assert output == "error: --engine ray needs Ray Data: pip install 'curate-sft[ray]'\n"
