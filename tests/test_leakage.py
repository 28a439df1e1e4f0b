"""L001-L004: training records holding eval, test or reference data, whatever the order of the files."""

from __future__ import annotations

import json
import random

import pytest
from conftest import conv, write_jsonl

from curate.config import Config
from curate.engine import lint_paths


def words(rng: random.Random, n: int) -> str:
    return " ".join(f"w{rng.randrange(10**9)}" for _ in range(n))


def lint(paths, select, references=(), jobs=1, rules=None):
    result = lint_paths(
        [str(p) for p in paths],
        Config(select=list(select), rules=rules or {}),
        references=[str(r) for r in references],
        jobs=jobs,
    )
    return [
        (d.path.rsplit("/", 1)[-1], d.line, d.code, [(r.path.rsplit("/", 1)[-1], r.line) for r in d.related], d.message)
        for d in result.diagnostics
    ]


def brief(found):
    return [(path, line, code, related) for path, line, code, related, _ in found]


@pytest.fixture
def leaky(tmp_path):
    """eval.jsonl and train.jsonl with one leak of each kind, each on its own train record."""
    rng = random.Random(2)
    evals = [conv(f"Question {i}: " + words(rng, 12), words(rng, 40)) for i in range(6)]
    passage = words(rng, 20)
    evals.append(conv("Summarize: " + passage, "A summary."))
    train = [conv("unrelated " + words(rng, 10), words(rng, 40)) for _ in range(8)]
    train[1] = json.loads(json.dumps(evals[2]))  # L001
    answer = evals[4]["messages"][1]["content"].split()
    answer[20] = "changed"
    train[3] = conv(evals[4]["messages"][0]["content"], " ".join(answer))  # L002 (~0.86)
    train[5] = conv(evals[0]["messages"][0]["content"], "a completely different answer")  # L003
    train[6] = conv("Tell me something.", "Here: " + " ".join(passage.split()[3:18]) + " and more.")  # L004
    return write_jsonl(tmp_path / "train.jsonl", train), write_jsonl(tmp_path / "eval.jsonl", evals)


EXPECTED = [
    ("train.jsonl", 2, "L001", [("eval.jsonl", 3)]),
    ("train.jsonl", 4, "L002", [("eval.jsonl", 5)]),
    ("train.jsonl", 6, "L003", [("eval.jsonl", 1)]),
    ("train.jsonl", 7, "L004", [("eval.jsonl", 7)]),
]


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_leak_kind_at_its_line_whatever_the_file_order(leaky, jobs):
    train, evals = leaky
    assert brief(lint([train, evals], ["L"], jobs=jobs)) == EXPECTED
    assert brief(lint([evals, train], ["L"], jobs=jobs)) == EXPECTED


def test_messages(leaky):
    train, evals = leaky
    found = {code: message for _, _, code, _, message in lint([train, evals], ["L"])}
    assert found == {
        "L001": f"same normalized conversation as the eval record at {evals}:3",
        "L002": f"near-duplicate of the eval record at {evals}:5: word 3-gram Jaccard similarity 0.89 (threshold 0.7)",
        "L003": f"prompt equals the prompt of the eval record at {evals}:1",
        "L004": 'shares the 13-word sequence "w172051830 w119373215 w549843688 w777141770 w94297463 w258627380 '
        f'w109426367 w10…" with the eval record at {evals}:7 (3 shared 13-grams)',
    }


def test_one_finding_per_record_the_strongest_selected(leaky):
    """An exact copy is also a near copy, a prompt leak and an n-gram overlap: each rule alone reports it,
    together only L001 does."""
    train, evals = leaky
    for code in ("L002", "L003", "L004"):
        assert ("train.jsonl", 2, code, [("eval.jsonl", 3)]) in brief(lint([train, evals], [code]))
    assert [f[:3] for f in lint([train, evals], ["L"]) if f[1] == 2] == [("train.jsonl", 2, "L001")]


def test_reference_files_of_any_shape_and_test_files(tmp_path):
    bench = write_jsonl(
        tmp_path / "bench.jsonl",
        [
            {"id": 1, "question": "Which element has the chemical symbol Au on the periodic table?", "answer": "Gold"},
            {"problem": "How many prime numbers are there between one and twenty inclusive?", "solution": "8"},
            [1, 2],
            "not json",
        ],
    )
    test = write_jsonl(tmp_path / "test.jsonl", [conv("Name the longest river flowing through Egypt.", "The Nile.")])
    train = write_jsonl(
        tmp_path / "data.jsonl",
        [  # unsplit: the training side
            {"instruction": "Which element has the chemical symbol Au on the periodic table?", "output": "Gold"},
            {
                "instruction": "How many prime numbers are there between one and twenty inclusive?",
                "output": "There are eight of them: 2, 3, 5, 7, 11, 13, 17 and 19.",
            },
            {"instruction": "Name the longest river flowing through Egypt.", "output": "That is the Nile."},
            {"instruction": "Which element has the symbol Ag?", "output": "Silver"},
        ],
    )
    assert brief(lint([train, test], ["L"], references=[bench])) == [
        ("data.jsonl", 1, "L001", [("bench.jsonl", 1)]),
        ("data.jsonl", 2, "L003", [("bench.jsonl", 2)]),
        ("data.jsonl", 3, "L003", [("test.jsonl", 1)]),
    ]


def test_system_prompts_and_short_prompts(tmp_path):
    q = "Which planet in our solar system has the most confirmed moons?"
    evals = write_jsonl(tmp_path / "eval.jsonl", [conv(q, "Saturn."), conv("Hi, how are you?", "Fine.")])
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [
            conv(q, "Saturn, with 146.", "You are an astronomy tutor."),  # the system prompt does not hide it
            conv("hi, how are you?", "Great!"),  # too short to count (min_words 5)
        ],
    )
    assert brief(lint([train, evals], ["L003"])) == [("train.jsonl", 1, "L003", [("eval.jsonl", 1)])]
    assert len(lint([train, evals], ["L003"], rules={"L003": {"min_words": 1}})) == 2


def test_ngram_length_and_template_text(tmp_path):
    rng = random.Random(4)
    template = words(rng, 16)
    passage = words(rng, 30).split()
    evals = [conv(f"{template} item {i}", f"answer {i}") for i in range(11)] + [conv(" ".join(passage), "ok")]
    train = [
        conv(f"{template} my own item", "mine"),  # template text: in 11 eval records (> max_df 10)
        conv("quote", " ".join(passage[5:17])),  # 12 words
        conv("quote", " ".join(passage[5:18])),  # 13 words
    ]
    paths = [write_jsonl(tmp_path / "train.jsonl", train), write_jsonl(tmp_path / "eval.jsonl", evals)]
    assert [f[1] for f in lint(paths, ["L004"])] == [3]
    assert [f[1] for f in lint(paths, ["L004"], rules={"L004": {"ngram": 12}})] == [2, 3]
    assert [f[1] for f in lint(paths, ["L004"], rules={"L004": {"max_df": 20}})] == [1, 3]


def test_no_protected_files_no_leaks(tmp_path):
    rng = random.Random(5)
    record = conv("q " + words(rng, 10), words(rng, 30))
    train = write_jsonl(tmp_path / "train.jsonl", [record, record])
    other = write_jsonl(tmp_path / "extra.jsonl", [record])
    assert not lint([train, other], ["L"])
    evals = write_jsonl(tmp_path / "eval.jsonl", [record])
    assert not lint([evals], ["L"])
