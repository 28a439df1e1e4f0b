"""D001 exact and D002 near duplicates: planted copies at exact lines, hard negatives, no chaining."""

from __future__ import annotations

import json
import random
import unicodedata

import pytest
from conftest import conv, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.config import Config
from curate.engine import lint_paths
from curate.formats import OPENAI, to_messages
from curate.similarity import jaccard, shingles
from curate.text import normalize, role_tagged


def similarity(a: dict, b: dict) -> float:
    """D002's measure, computed directly: Jaccard of the word 3-gram shingles of the normalized texts."""
    return jaccard(shingles(role_tagged(to_messages(a, OPENAI))), shingles(role_tagged(to_messages(b, OPENAI))))


def words(rng: random.Random, n: int) -> str:
    return " ".join(f"w{rng.randrange(10**9)}" for _ in range(n))


def edited(rng: random.Random, record: dict, edits: int) -> dict:
    """``record`` with ``edits`` answer words replaced at random places."""
    answer = record["messages"][-1]["content"].split()
    for pos in rng.sample(range(len(answer)), edits):
        answer[pos] = f"x{rng.randrange(10**9)}"
    return conv(record["messages"][0]["content"], " ".join(answer))


def plant(rng: random.Random, record: dict, kind: str) -> dict:
    """An exact copy (case and spacing changed), a near copy (0.8 <= Jaccard < 1) or a hard negative
    (0.6 <= Jaccard < 0.7) of ``record``."""
    if kind == "exact":
        copy = json.loads(json.dumps(record))
        copy["messages"][1]["content"] = "  " + copy["messages"][1]["content"].upper()
        return copy
    low, high, edits = (0.8, 1.0, (1, 2)) if kind == "near" else (0.6, 0.7, (4, 5))
    while True:
        copy = edited(rng, record, rng.choice(edits))
        if low <= similarity(record, copy) < high:
            return copy


def lint(paths, select, jobs=1, rules=None, references=()):
    config = Config(select=list(select), rules=rules or {})
    return lint_paths([str(p) for p in paths], config, references=[str(r) for r in references], jobs=jobs)


def found(result, code):
    """{(line, related line)} of one code's findings."""
    return {(d.line, d.related[0].line) for d in result.diagnostics if d.code == code}


@pytest.fixture
def planted(tmp_path):
    """400 unrelated records (60 random words each), with exact copies, near copies and hard negatives of
    some of them planted at later lines; returns (path, records, {kind: {(copy line, source line)}})."""
    rng = random.Random(7)
    records = [conv(f"question {i}", words(rng, 60)) for i in range(400)]
    plants = []
    for src in rng.sample(records, 90):
        kind = rng.choice(["exact", "near", "negative"])
        copy = plant(rng, src, kind)
        records.insert(rng.randrange(records.index(src) + 1, len(records) + 1), copy)
        plants.append((kind, copy, src))
    line = {id(r): i for i, r in enumerate(records, 1)}
    truth = {"exact": set(), "near": set(), "negative": set()}
    for kind, copy, src in plants:
        truth[kind].add((line[id(copy)], line[id(src)]))
    return write_jsonl(tmp_path / "train.jsonl", records), records, truth


def test_planted_duplicates_at_exact_lines(planted):
    path, records, truth = planted
    result = lint([path], ["D001", "D002"])
    assert found(result, "D001") == truth["exact"]
    assert found(result, "D002") == truth["near"]
    for d in result.diagnostics:
        assert d.path == path and d.related[0].path == path and d.related[0].line < d.line
        if d.code == "D002":
            sim = similarity(records[d.line - 1], records[d.related[0].line - 1])
            assert sim >= 0.7 and f"similarity {sim:.2f}" in d.message


def test_hard_negatives_below_the_threshold_stay_quiet(planted):
    path, _, truth = planted
    flagged = {d.line for d in lint([path], ["D002"]).diagnostics}
    assert truth["negative"] and not flagged & {copy for copy, _ in truth["negative"]}


def test_d002_alone_reports_exact_copies_as_similarity_one(planted):
    path, _, truth = planted
    result = lint([path], ["D002"])
    assert found(result, "D002") == truth["near"] | truth["exact"]
    exact_lines = {copy for copy, _ in truth["exact"]}
    assert all("similarity 1.00" in d.message for d in result.diagnostics if d.line in exact_lines)


def test_threshold_option(planted):
    path, records, truth = planted
    strict = found(lint([path], ["D001", "D002"], rules={"D002": {"threshold": 0.9}}), "D002")
    assert strict == {(c, s) for c, s in truth["near"] if similarity(records[c - 1], records[s - 1]) >= 0.9}
    assert 0 < len(strict) < len(truth["near"])


def test_workers_give_the_same_findings(planted):
    path = planted[0]
    one = [(d.code, d.line, d.message) for d in lint([path], ["D"]).diagnostics]
    two = [(d.code, d.line, d.message) for d in lint([path], ["D"], jobs=2).diagnostics]
    assert one == two and one


def test_recall_just_above_the_threshold(tmp_path):
    """Banding for recall: nearly every pair at Jaccard 0.70-0.75 is found (balanced banding finds about half)."""
    rng = random.Random(3)
    records, pairs = [], []
    for i in range(150):
        base = conv(f"topic {i}", words(rng, 60))
        while True:
            copy = edited(rng, base, 3)
            if 0.7 <= similarity(base, copy) < 0.75:
                break
        records += [base, copy]
        pairs.append((2 * i + 2, 2 * i + 1))
    result = lint([write_jsonl(tmp_path / "train.jsonl", records)], ["D002"])
    hits = found(result, "D002")
    assert hits <= set(pairs)
    assert len(hits) >= 0.85 * len(pairs)


def test_templated_records_do_not_chain(tmp_path):
    """300 records of one template: each finding pairs two records that are themselves similar, once each."""
    countries = [f"Country{i}" for i in range(300)]
    records = [conv(f"What is the capital of {c}?", f"The capital of {c} is City{i}.") for i, c in enumerate(countries)]
    path = write_jsonl(tmp_path / "train.jsonl", records)
    assert not lint([path], ["D002"]).diagnostics  # short texts differing in their slots: Jaccard ~0.3

    # A long shared template with a one-word slot: every pair is similar, yet findings stay one per record.
    rng = random.Random(5)
    template = words(rng, 50).split()
    records = []
    for i in range(300):
        text = list(template)
        text[rng.randrange(50)] = f"slot{i}"
        records.append(conv("Describe the product.", " ".join(text)))
    path = write_jsonl(tmp_path / "templated.jsonl", records)
    result = lint([path], ["D002"])
    assert 250 <= len(result.diagnostics) <= 299
    assert len({d.line for d in result.diagnostics}) == len(result.diagnostics)
    for d in result.diagnostics:
        assert similarity(records[d.line - 1], records[d.related[0].line - 1]) >= 0.7

    # A drifting chain: each record is near its predecessor, far from records a few steps back.
    chain = [words(rng, 60).split()]
    for _ in range(40):
        nxt = list(chain[-1])
        for pos in rng.sample(range(60), 2):
            nxt[pos] = f"d{rng.randrange(10**9)}"
        chain.append(nxt)
    records = [conv("Drift.", " ".join(c)) for c in chain]
    result = lint([write_jsonl(tmp_path / "chain.jsonl", records)], ["D002"])
    assert similarity(records[0], records[-1]) < 0.3
    for d in result.diagnostics:
        assert similarity(records[d.line - 1], records[d.related[0].line - 1]) >= 0.7


def test_splits_are_deduplicated_separately(tmp_path):
    rng = random.Random(11)
    a, b = conv("q a", words(rng, 30)), conv("q b", words(rng, 30))
    train = write_jsonl(tmp_path / "train.jsonl", [a, b])
    extra = write_jsonl(tmp_path / "extra.jsonl", [b])  # unsplit: the training side, with train
    evals = write_jsonl(tmp_path / "eval.jsonl", [a, b, b])
    test = write_jsonl(tmp_path / "test.jsonl", [a])
    result = lint([train, extra, evals, test], ["D001"])
    assert [(d.path.rsplit("/", 1)[-1], d.line, d.related[0].line) for d in result.diagnostics] == [
        ("extra.jsonl", 1, 2),
        ("eval.jsonl", 3, 2),
    ]


def test_records_without_conversations_are_ignored(tmp_path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        ['{"a": 1}', '{"a": 1}', "not json", "not json", "[1]", "[1]", '{"messages": []}', '{"messages": []}'],
    )
    assert not lint([path], ["D", "C001", "L"]).diagnostics


def test_system_prompts_are_not_compared_for_near_duplicates(tmp_path):
    rng = random.Random(13)
    system = words(rng, 300)  # a long shared instruction block, as agents and support bots have
    records = [conv(f"question {i} " + words(rng, 8), words(rng, 12), system) for i in range(50)]
    records.append(conv(records[0]["messages"][1]["content"], records[0]["messages"][2]["content"], "Be brief."))
    records.append({"messages": [{"role": "system", "content": "Only a system prompt."}]})
    records.append({"messages": [{"role": "system", "content": "Only a system prompt."}]})
    result = lint([write_jsonl(tmp_path / "train.jsonl", records)], ["D"])
    # the same exchange under another system prompt: a near-duplicate (1.00), not an exact one
    assert [(d.code, d.line, d.related[0].line) for d in result.diagnostics] == [("D002", 51, 1), ("D001", 53, 52)]
    assert "similarity 1.00" in result.diagnostics[0].message


@given(
    st.text(
        alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u200b\u3000\ufb01É")),
        max_size=12,
    )
)
def test_normalize_collapses_whitespace_like_split(text):
    assert normalize(text) == " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from([chr(i) for i in range(128)] + list("é ß\u00a0\u2028İﬁ\u3000Ⅻ")), max_size=30))
def test_normalize_is_nfkc_casefold_with_whitespace_collapsed(text):
    """The ASCII fast path gives what the definition gives: NFKC, case-folded, whitespace collapsed
    (texts without TeX markup, which `tex_plain` rewrites first)."""
    text = text.replace("$", "").replace("\\", "")
    assert normalize(text) == " ".join(unicodedata.normalize("NFKC", text).casefold().split())
