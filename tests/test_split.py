"""`curate split`: deterministic, ratio-respecting, lossless, and no cluster crosses a split."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import conv, write_jsonl

from curate.config import Config
from curate.engine import lint_paths
from curate.errors import CurateError
from curate.formats import OPENAI, to_messages
from curate.similarity import jaccard, shingles
from curate.splitting import plan as split_module
from curate.splitting.command import split
from curate.splitting.features import features
from curate.splitting.plan import SplitPlan, parse_ratios, split_records, targets
from curate.text import role_tagged

VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "si", "tu", "ve", "zo") for b in range(40)]


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def edited(rng: random.Random, words: str, k: int, positions=None) -> str:
    out = words.split()
    for pos in positions or rng.sample(range(len(out)), k):
        out[pos] = f"new{rng.randrange(10**6)}"
    return " ".join(out)


def dataset(n_unique: int = 300, seed: int = 0) -> tuple[list[dict], list[list[int]]]:
    """Unique conversations plus planted groups that must stay together, shuffled: (records, groups).

    A group lists its members' positions in planting order (a chain's links in order).
    """
    rng = random.Random(seed)
    records = [conv(f"Question {i}: {text(rng, 12)}", text(rng, 40)) for i in range(n_unique)]
    groups = []

    def plant(members):
        start = len(records)
        records.extend(members)
        groups.append(list(range(start, len(records))))

    for g in range(8):  # exact duplicates: other key order, other case and spacing
        base = conv(f"Dup {g}: {text(rng, 10)}", text(rng, 30))
        reordered = {"messages": [{"content": m["content"], "role": m["role"]} for m in base["messages"]]}
        loud = conv(base["messages"][0]["content"].upper(), "  " + base["messages"][1]["content"].replace(" ", "   "))
        plant([base, reordered, loud])
    for g in range(8):  # a chain: each near the next (>= 0.75), the ends not near (< 0.7)
        prompt, answer = text(rng, 10), text(rng, 80)
        positions = rng.sample(range(80), 8)
        chain = []
        for step in range(4):
            answer = edited(rng, answer, 2, positions[2 * step : 2 * step + 2])
            chain.append(conv(f"Chain {g} step {step}: {prompt}", answer))
        plant(chain)
    for g in range(8):  # the same prompt, unrelated answers (a prompt leak)
        prompt = f"Same prompt {g}: {text(rng, 15)}"
        plant([conv(prompt, text(rng, 30)) for _ in range(3)])
    for _ in range(8):  # near prompts (one word apart in 60), unrelated answers
        prompt = text(rng, 60)
        plant([conv(prompt, text(rng, 30)), conv(edited(rng, prompt, 1), text(rng, 30))])
    order = list(range(len(records)))
    rng.shuffle(order)
    where = {old: new for new, old in enumerate(order)}
    return [records[i] for i in order], [[where[i] for i in g] for g in groups]


@pytest.fixture
def data(tmp_path):
    records, groups = dataset()
    return write_jsonl(tmp_path / "data.jsonl", records), records, groups


def run_split(*args):
    return CliRunner().invoke(split, [str(a) for a in args], catch_exceptions=False)


def read_lines(path) -> list[bytes]:
    with open(path, "rb") as f:
        return f.read().splitlines()


def split_of_lines(out_dir, names, input_path) -> list[str]:
    """Which output file each input line went to (the input lines are distinct)."""
    where = {line: name for name in names for line in read_lines(out_dir / f"{name}.jsonl")}
    return [where[line] for line in read_lines(input_path)]


def test_planted_groups_are_similar_as_the_rules_define_it(data):
    path, records, groups = data
    assert len(set(read_lines(path))) == len(records)
    # Conversation text and prompt (the non-system turns before the final answer), as curate.crossrecord.features builds them.
    texts = [(role_tagged(to_messages(r, OPENAI)), role_tagged(to_messages(r, OPENAI)[:-1])) for r in records]
    for chain in groups[8:16]:
        assert all(jaccard(shingles(texts[a][0]), shingles(texts[b][0])) >= 0.7 for a, b in zip(chain, chain[1:]))
        assert jaccard(shingles(texts[chain[0]][0]), shingles(texts[chain[-1]][0])) < 0.7  # only the chain links them
        assert all(jaccard(shingles(texts[a][1]), shingles(texts[b][1])) < 0.9 for a, b in zip(chain, chain[1:]))
    near_prompts = groups[-1]
    assert jaccard(shingles(texts[near_prompts[0]][1]), shingles(texts[near_prompts[1]][1])) >= 0.9


def test_same_seed_same_bytes_whatever_the_jobs_and_another_seed_differs(data, tmp_path):
    path, _, _ = data
    for out, seed, jobs in (("a", 7, 1), ("b", 7, 2), ("c", 8, 1)):
        result = run_split(path, "--ratios", "0.8,0.2", "--seed", seed, "--jobs", jobs, "-o", tmp_path / out)
        assert result.exit_code == 0, result.output
    for name in ("train", "eval"):
        assert (tmp_path / "a" / f"{name}.jsonl").read_bytes() == (tmp_path / "b" / f"{name}.jsonl").read_bytes()
    assert (tmp_path / "a" / "eval.jsonl").read_bytes() != (tmp_path / "c" / "eval.jsonl").read_bytes()


def test_nothing_lost_and_each_line_byte_for_byte(tmp_path, data):
    path, _, _ = data
    raw = read_lines(path)
    # Unusual lines: escapes, spacing, key order, invalid UTF-8 (F002, yet a conversation), CRLF endings
    # (the line keeps its bytes; its ending becomes a newline).
    extra = [
        '{"messages":[{"role":"user","content":"caf\\u00e9 \u00e9"},{"role":"assistant","content":"k"}]}'.encode(),
        b'  {"messages" : [ {"content": "b", "role": "user"}, {"role": "assistant", "content": "a"} ] }  ',
        b'{"messages": [{"role": "user", "content": "bad \xff byte"}, {"role": "assistant", "content": "ok"}]}',
    ]
    with open(path, "ab") as f:
        for line in extra:
            f.write(line + b"\r\n")
    result = run_split(path, "--ratios", "0.9,0.1", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    written = read_lines(tmp_path / "out" / "train.jsonl") + read_lines(tmp_path / "out" / "eval.jsonl")
    assert Counter(written) == Counter(raw + extra)


def test_ratios_are_respected(data, tmp_path):
    path, records, _ = data
    result = run_split(path, "--ratios", "0.75,0.25", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    n_eval = len(read_lines(tmp_path / "out" / "eval.jsonl"))
    assert abs(n_eval - 0.25 * len(records)) <= 0.02 * len(records)
    assert f"eval.jsonl: {n_eval} records" in result.output


def test_three_ratios_write_a_test_split(data, tmp_path):
    path, records, groups = data
    result = run_split(path, "--ratios", "0.8,0.1,0.1", "--seed", 3, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    names = ("train", "eval", "test")
    sizes = {name: len(read_lines(tmp_path / "out" / f"{name}.jsonl")) for name in names}
    assert sum(sizes.values()) == len(records)
    for name in ("eval", "test"):
        assert abs(sizes[name] - 0.1 * len(records)) <= 0.02 * len(records)
    where = split_of_lines(tmp_path / "out", names, path)
    for group in groups:
        assert len({where[i] for i in group}) == 1


def test_clusters_stay_together_whatever_the_seed(data, tmp_path):
    path, _, groups = data
    held_out = set()
    for seed in range(6):
        out = tmp_path / f"out{seed}"
        assert run_split(path, "--ratios", "0.7,0.3", "--seed", seed, "-o", out).exit_code == 0
        where = split_of_lines(out, ("train", "eval"), path)
        assert all(len({where[i] for i in group}) == 1 for group in groups)
        held_out |= {g for g, group in enumerate(groups) if where[group[0]] == "eval"}
    assert held_out, "no planted group was ever held out: the test would be vacuous"


@pytest.mark.parametrize("ratios", ["0.8,0.2", "0.8,0.1,0.1"])
def test_outputs_linted_together_have_no_leaks(data, tmp_path, ratios):
    path, _, _ = data
    result = run_split(path, "--ratios", ratios, "--seed", 1, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "L001, L002, L003 on the outputs: clean" in result.output
    outputs = sorted(str(p) for p in (tmp_path / "out").glob("*.jsonl"))
    found = lint_paths(outputs, Config(select=["L001", "L002", "L003"])).diagnostics
    assert found == []
    # The input itself, linted as train against a naive eval, does leak: the check is not vacuous.
    naive = write_jsonl(tmp_path / "naive_eval.jsonl", [json.loads(x) for x in read_lines(path)[::7]])
    assert lint_paths([path, naive], Config(select=["L001", "L002"]), {path: "train", naive: "eval"}).diagnostics


def test_the_final_lint_catches_what_the_search_missed(data, tmp_path, monkeypatch):
    path, _, groups = data
    # No links and no in-memory verification: only the lint of the written files keeps groups together.
    monkeypatch.setattr(split_module, "clusters", lambda feats, opts: np.arange(len(feats)))
    monkeypatch.setattr(SplitPlan, "leaking_records", lambda self: np.empty(0, np.int64))
    result = run_split(path, "--ratios", "0.6,0.4", "--seed", 2, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    outputs = [str(tmp_path / "out" / "train.jsonl"), str(tmp_path / "out" / "eval.jsonl")]
    assert lint_paths(outputs, Config(select=["L001", "L002", "L003"])).diagnostics == []
    assert int(re.search(r"to train, (\d+) of them on the lint of the outputs", result.output)[1]) > 0


def test_verification_moves_leaking_clusters(data, monkeypatch):
    _, records, groups = data
    # Without links every record is its own cluster: the cross-split search must find the leaks.
    monkeypatch.setattr(split_module, "clusters", lambda feats, opts: np.arange(len(feats)))
    feats = features(split_module.conversation(r) for r in records)
    plan = SplitPlan(feats, np.arange(len(records)), (0.6, 0.4), seed=2)
    assert len(plan.leaking_records())
    plan.settle()
    assert plan.moved_clusters > 0 and len(plan.leaking_records()) == 0
    train, held = plan.indices()
    assert not np.isin(feats.digests[held], feats.digests[train]).any()
    assert len(train) + len(held) == len(records)


def test_big_clusters_go_to_train(tmp_path):
    rng = random.Random(5)
    base = text(rng, 80)
    templated = [conv("Rewrite this text please.", edited(rng, base, 2)) for _ in range(40)]
    unique = [conv(f"Question {i}: {text(rng, 12)}", text(rng, 40)) for i in range(160)]
    indices = split_records(templated + unique, (0.9, 0.1), seed=0)
    assert set(range(40)) <= set(indices[0])
    assert len(indices[1]) == 20


def test_short_shared_prompts_do_not_chain_everything_together():
    # "Hi." prompts are under L003's min_words: they are no leak, so no reason to keep them together.
    rng = random.Random(11)
    greetings = [conv("Hi.", text(rng, 30)) for _ in range(100)]
    indices = split_records(greetings, (0.8, 0.2), seed=0)
    assert len(indices[1]) == 20


def test_split_records_matches_the_command_and_takes_many_inputs(data, tmp_path):
    path, records, _ = data
    from_path = split_records(path, (0.85, 0.15), seed=4)
    assert split_records(records, (0.85, 0.15), seed=4) == from_path

    class Example:  # what the trainer holds: canonical messages as dicts
        def __init__(self, record):
            self.messages = record["messages"]

    assert split_records([Example(r) for r in records], (0.85, 0.15), seed=4) == from_path
    assert sorted(from_path[0] + from_path[1]) == list(range(len(records)))
    assert run_split(path, "--ratios", "0.85,0.15", "--seed", 4, "-o", tmp_path / "out").exit_code == 0
    lines = read_lines(path)
    assert read_lines(tmp_path / "out" / "eval.jsonl") == [lines[i] for i in from_path[1]]


def test_json_array_and_sharegpt_input(tmp_path):
    rng = random.Random(9)
    records = [
        {"conversations": [{"from": "human", "value": f"Q{i} {text(rng, 8)}"}, {"from": "gpt", "value": text(rng, 20)}]}
        for i in range(30)
    ]
    records.append(json.loads(json.dumps(records[0])))
    path = tmp_path / "data.json"
    path.write_text(json.dumps(records, indent=2))
    result = run_split(path, "--ratios", "0.8,0.2", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for name in ("train", "eval") for line in read_lines(tmp_path / "out" / f"{name}.jsonl")]
    canonical = lambda rs: Counter(json.dumps(r, sort_keys=True) for r in rs)  # noqa: E731
    assert canonical(out) == canonical(records)
    train = [json.loads(line) for line in read_lines(tmp_path / "out" / "train.jsonl")]
    assert train.count(records[0]) == 2


@pytest.mark.parametrize(
    "ratios, message",
    [
        ("0.9,0.2", "sum to 1.1"),
        ("0.9", "two (train,eval) or three"),
        ("0.5,0.3,0.1,0.1", "two (train,eval) or three"),
        ("1,0", "between 0 and 1"),
        ("0.9,abc", "comma-separated numbers"),
    ],
)
def test_bad_ratios_are_one_line_and_exit_2(data, tmp_path, ratios, message):
    path, _, _ = data
    result = run_split(path, "--ratios", ratios, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_missing_file_is_exit_2(tmp_path):
    result = run_split(tmp_path / "nope.jsonl", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output == f"error: {tmp_path / 'nope.jsonl'}: no such file\n"


def test_records_without_a_conversation_stop_the_split(tmp_path, data):
    _, records, _ = data
    path = write_jsonl(tmp_path / "bad.jsonl", records[:20] + ['{"messages": [', "[1, 2]", {"id": 3}] + records[20:40])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "train.jsonl").write_text("earlier\n")
    result = run_split(path, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "3 record(s) have no conversation" in result.output
    assert "line 21:" in result.output and "line 22:" in result.output and "line 23:" in result.output
    assert (tmp_path / "out" / "train.jsonl").read_text() == "earlier\n"  # nothing replaced
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["train.jsonl"]  # no staging left


def test_parse_ratios_and_targets():
    assert parse_ratios("0.9,0.1") == (0.9, 0.1)
    assert parse_ratios(" 0.8, 0.1 ,0.1") == (0.8, 0.1, 0.1)
    with pytest.raises(CurateError):
        parse_ratios("0.5,0.6")
    assert targets(1000, (0.9, 0.1)) == [900, 100]
    assert targets(5, (0.9, 0.1)) == [4, 1]  # a held-out split gets at least one record
    assert targets(1, (0.9, 0.1)) == [1, 0]
    assert targets(0, (0.8, 0.1, 0.1)) == [0, 0, 0]
    assert split_records([], (0.9, 0.1)) == [[], []]


def test_tiny_and_degenerate_inputs(tmp_path):
    one = [conv("hi", "hello")]
    assert split_records(one, (0.5, 0.5)) == [[0], []]
    same = [conv("hi", "hello")] * 5
    assert split_records(same, (0.8, 0.2)) == [[0, 1, 2, 3, 4], []]
    odd = [
        {"messages": "not a list"},
        {"messages": [{"role": "assistant", "content": "no prompt"}]},
        {"messages": [1, None, {"role": 3, "content": {"x": 1}}]},
        conv("", ""),
    ]
    assert sorted(sum(split_records(odd, (0.5, 0.5)), [])) == [0, 1, 2, 3]


def test_a_test_file_from_an_earlier_three_way_split_is_pointed_out(data, tmp_path):
    path, _, _ = data
    assert run_split(path, "--ratios", "0.8,0.1,0.1", "-o", tmp_path / "out").exit_code == 0
    result = run_split(path, "--ratios", "0.9,0.1", "-o", tmp_path / "out")
    assert result.exit_code == 0
    assert f"warning: {tmp_path / 'out' / 'test.jsonl'} is from an earlier split and was left as is" in result.output


def test_features_released_for_the_final_lint_are_read_again_when_it_moves_clusters(data, tmp_path, monkeypatch):
    path, _, _ = data
    monkeypatch.setattr(split_module, "clusters", lambda feats, opts: np.arange(len(feats)))
    real, had_features = SplitPlan.leaking_records, []

    def blind_first(self):  # the in-memory verification misses everything once: the lint must catch it
        had_features.append(self.feats is not None)
        return real(self) if len(had_features) > 1 else np.empty(0, np.int64)

    monkeypatch.setattr(SplitPlan, "leaking_records", blind_first)
    result = run_split(path, "--ratios", "0.6,0.4", "--seed", 2, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert int(re.search(r"to train, (\d+) of them on the lint of the outputs", result.output)[1]) > 0
    assert len(had_features) > 1 and all(had_features)
    outputs = [str(tmp_path / "out" / "train.jsonl"), str(tmp_path / "out" / "eval.jsonl")]
    assert lint_paths(outputs, Config(select=["L001", "L002", "L003"])).diagnostics == []
