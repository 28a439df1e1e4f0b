"""`curate fix` removals: exact duplicates (safe), near-duplicates and leaks (--unsafe); nothing is lost."""

from __future__ import annotations

import json
import random
from collections import Counter

from conftest import conv, write_jsonl

CLEAN_CODES = ("D001", "D002", "L001", "L002", "L003")


def words(rng: random.Random, n: int) -> str:
    return " ".join(f"w{rng.randrange(10**9)}" for _ in range(n))


def near(record: dict, position: int = 20) -> dict:
    answer = record["messages"][1]["content"].split()
    answer[position] = "changed"
    return conv(record["messages"][0]["content"], " ".join(answer))


def shouting(record: dict) -> dict:
    """An exact copy as far as normalization goes."""
    return conv(record["messages"][0]["content"].upper(), "  " + record["messages"][1]["content"])


def rejects_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_nothing_lost(original: list[bytes], kept: list[bytes], rejected: list[dict]) -> None:
    """Kept plus rejected records are the input records, as a multiset of lines."""
    assert len(kept) + len(rejected) == len(original)
    assert Counter(kept) + Counter(r["record"].encode("utf-8") for r in rejected) == Counter(original)


def test_safe_fix_removes_exact_duplicates_keeping_the_first(run, tmp_path):
    rng = random.Random(1)
    base = [conv(f"question {i} " + words(rng, 8), words(rng, 40)) for i in range(6)]
    records = [base[0], base[1], shouting(base[0]), base[2], near(base[2]), base[0], base[3], shouting(base[3])]
    write_jsonl(tmp_path / "train.jsonl", records)
    original = (tmp_path / "train.jsonl").read_bytes().splitlines()
    result = run("fix", "train.jsonl", "--output", "out.jsonl")
    assert result.exit_code == 0, result.output
    assert "removed 3" in result.output and "D001: 3" in result.output
    kept = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert kept == [original[i] for i in (0, 1, 3, 4, 6)]  # near-duplicate line 5 stays: that fix is unsafe
    rejected = rejects_of(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["code"], r["related"]) for r in rejected] == [
        (3, "D001", [{"path": "train.jsonl", "line": 1}]),
        (6, "D001", [{"path": "train.jsonl", "line": 1}]),
        (8, "D001", [{"path": "train.jsonl", "line": 7}]),
    ]
    assert all(r["path"] == "train.jsonl" and "train.jsonl:" in r["reason"] for r in rejected)
    check_nothing_lost(original, kept, rejected)
    again = run("lint", "out.jsonl", "--select", "D001", "--no-progress")
    assert again.exit_code == 0 and "D001" not in again.output


def test_unsafe_fix_removes_near_duplicates_and_leaks(run, tmp_path):
    rng = random.Random(2)
    bench = [{"question": f"benchmark question {i} " + words(rng, 10), "answer": words(rng, 40)} for i in range(4)]
    write_jsonl(tmp_path / "bench.jsonl", bench)
    as_conv = [conv(b["question"], b["answer"]) for b in bench]
    base = [conv(f"question {i} " + words(rng, 8), words(rng, 40)) for i in range(5)]
    records = [
        base[0],
        base[1],
        near(base[0]),  # 3 D002
        as_conv[0],  # 4 L001
        base[2],
        near(as_conv[1]),  # 6 L002
        conv(bench[2]["question"], "another answer entirely"),  # 7 L003
        base[1],  # 8 D001
        base[3],
        near(near(base[0]), 30),  # 10 D002 (near 1 and 3)
        base[4],
        "not json at all",  # kept as it is
    ]
    write_jsonl(tmp_path / "train.jsonl", records)
    original = (tmp_path / "train.jsonl").read_bytes().splitlines()

    safe = run("fix", "train.jsonl", "--reference", "bench.jsonl", "--output", "safe.jsonl")
    assert safe.exit_code == 0 and "removed 1" in safe.output

    result = run(
        "fix",
        "train.jsonl",
        "--unsafe",
        "--reference",
        "bench.jsonl",
        "--output",
        "out.jsonl",
        "--rejects",
        "removed.jsonl",
    )
    assert result.exit_code == 0, result.output
    assert "removed 6" in result.output
    rejected = rejects_of(tmp_path / "removed.jsonl")
    assert [(r["line"], r["code"]) for r in rejected] == [
        (3, "D002"),
        (4, "L001"),
        (6, "L002"),
        (7, "L003"),
        (8, "D001"),
        (10, "D002"),
    ]
    related = {r["line"]: r["related"] for r in rejected}
    assert related[4] == [{"path": "bench.jsonl", "line": 1}]
    assert related[6] == [{"path": "bench.jsonl", "line": 2}]
    assert related[7] == [{"path": "bench.jsonl", "line": 3}]
    assert related[3] == related[10] == [{"path": "train.jsonl", "line": 1}]
    assert "similarity" in next(r["reason"] for r in rejected if r["code"] == "D002")
    kept = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert kept == [original[i - 1] for i in (1, 2, 5, 9, 11, 12)]
    check_nothing_lost(original, kept, rejected)

    again = run(
        "lint",
        "out.jsonl",
        "--reference",
        "bench.jsonl",
        "--select",
        ",".join(CLEAN_CODES),
        "--output-format",
        "json",
        "--no-progress",
    )
    assert json.loads(again.output)["diagnostics"] == []


def test_unsafe_fix_in_place_with_an_eval_file(run, tmp_path):
    rng = random.Random(3)
    evals = [conv(f"eval question {i} " + words(rng, 10), words(rng, 40)) for i in range(3)]
    write_jsonl(tmp_path / "eval.jsonl", evals)
    eval_bytes = (tmp_path / "eval.jsonl").read_bytes()
    train = [conv(f"train question {i} " + words(rng, 10), words(rng, 40)) for i in range(4)]
    train.insert(1, shouting(evals[2]))
    train.insert(3, near(evals[0]))
    write_jsonl(tmp_path / "train.jsonl", train)
    original = (tmp_path / "train.jsonl").read_bytes().splitlines()
    # the train file after the eval file: leaks are found whatever the order
    result = run("fix", "eval.jsonl", "train.jsonl", "--unsafe", "--in-place")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval.jsonl").read_bytes() == eval_bytes
    kept = (tmp_path / "train.jsonl").read_bytes().splitlines()
    rejected = rejects_of(tmp_path / "eval.rejects.jsonl")  # the default: beside the first input
    assert [(r["path"], r["line"], r["code"], r["related"][0]["line"]) for r in rejected] == [
        ("train.jsonl", 2, "L001", 3),
        ("train.jsonl", 4, "L002", 1),
    ]
    check_nothing_lost(original, kept, rejected)
    again = run("lint", "train.jsonl", "eval.jsonl", "--select", ",".join(CLEAN_CODES), "--no-progress")
    assert again.exit_code == 0, again.output
