"""Tokenization through datasets.map (--num-proc) and its on-disk cache."""

import json

import pytest

pytest.importorskip("transformers")
pytest.importorskip("datasets")

from click.testing import CliRunner  # noqa: E402

from curate.train import tokcache  # noqa: E402
from curate.train.cli import train_command  # noqa: E402
from curate.train.data import Example, build_dataset, collect_dataset  # noqa: E402
from curate.train.tinymodel import build_tokenizer  # noqa: E402


def conversations(n):
    return [
        [
            {"role": "user", "content": f"Exercise {i}: what is {i} plus {i}?"},
            {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."},
        ]
        for i in range(n)
    ]


@pytest.fixture
def tokenizer(tmp_path, monkeypatch):
    monkeypatch.setattr(tokcache, "cache_root", lambda: tmp_path / "cache")
    texts = [m["content"] for c in conversations(12) for m in c]
    return build_tokenizer(texts, vocab_size=300)


def examples(n):
    return [Example("d.jsonl", i + 1, c) for i, c in enumerate(conversations(n))]


def test_workers_and_the_cache_give_what_encoding_in_process_gives(tokenizer, tmp_path, monkeypatch):
    data = examples(9)
    data[4].messages = [{"role": "user", "content": "only a question"}]  # nothing to train on
    expected = build_dataset(tokenizer, data, 64)
    key = tokcache.cache_key("sha", None, tokcache.tokenizer_fingerprint(tokenizer), 64)
    parallel = collect_dataset(data, tokcache.encode_all(tokenizer, data, key, num_proc=2), 64)
    assert [(e.input_ids, e.labels, e.line) for e in parallel.kept] == [
        (e.input_ids, e.labels, e.line) for e in expected.kept
    ]
    assert (
        [str(x) for x in parallel.excluded]
        == [str(x) for x in expected.excluded]
        == ["d.jsonl:5: no assistant token to train on"]
    )
    assert list((tmp_path / "cache").glob(f"{key}*.arrow"))

    def no_encoding(*args):
        raise AssertionError("encoded again instead of read from the cache")

    monkeypatch.setattr(tokcache, "encode_example", no_encoding)
    cached = collect_dataset(data, tokcache.encode_all(tokenizer, data, key, num_proc=2), 64)
    assert [e.input_ids for e in cached.kept] == [e.input_ids for e in expected.kept]


def test_the_key_changes_with_what_decides_an_encoding(tokenizer):
    fingerprint = tokcache.tokenizer_fingerprint(tokenizer)
    key = tokcache.cache_key("sha", None, fingerprint, 64)
    assert key == tokcache.cache_key("sha", None, fingerprint, 64)
    assert key != tokcache.cache_key("sha2", None, fingerprint, 64)
    assert key != tokcache.cache_key("sha", 'alpaca:{"prompt": "question"}', fingerprint, 64)
    assert key != tokcache.cache_key("sha", None, fingerprint, 128)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert tokcache.tokenizer_fingerprint(tokenizer) != fingerprint


@pytest.mark.slow
def test_dry_run_with_num_proc_caches_the_tokenization(tmp_path, tokenizer, monkeypatch):
    tokenizer.save_pretrained(tmp_path / "tok")
    rows = [{"messages": c} for c in conversations(12)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:9]))
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[9:]))
    monkeypatch.chdir(tmp_path)
    args = [
        "--model",
        "tok",
        "--data",
        "train.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        "out",
        "--dry-run",
        "--preview",
        "0",
        "--num-proc",
        "2",
    ]
    first = CliRunner().invoke(train_command, args)
    assert first.exit_code == 0, first.output
    assert "dry run: 9 train and 3 eval examples render" in first.stdout
    assert len(list((tmp_path / "cache").glob("*.arrow"))) == 4  # two files, two shards each
    monkeypatch.setattr(tokcache, "encode_example", None)  # a second run must not encode
    again = CliRunner().invoke(train_command, args)
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout
