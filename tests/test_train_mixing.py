"""Several --data files with weights: every file through the gate, examples mixed by weight."""

import json

import click
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.train.cli import train_command
from curate.train.gate import Gate
from curate.train.mixing import DataFile, DataFileParam, weighted


def records(start: int, n: int) -> list[dict]:
    """Distinct, lint-clean conversations."""
    return [
        {
            "messages": [
                {"role": "user", "content": f"Exercise {i}: what is {3 * i + 2} plus {7 * i + 5}?"},
                {"role": "assistant", "content": f"{3 * i + 2} plus {7 * i + 5} is {10 * i + 7}."},
            ]
        }
        for i in range(start, start + n)
    ]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def train(*args):
    return CliRunner().invoke(train_command, [str(a) for a in args])


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run inside tmp_path so no configuration of the checkout applies."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_CERT_KEY", raising=False)


# --- FILE[:WEIGHT] --------------------------------------------------------------------------------------


def parse(value):
    return DataFileParam().convert(value, None, None)


def test_a_weight_follows_the_last_colon(tmp_path):
    write(tmp_path / "a.jsonl", records(0, 2))
    assert parse("a.jsonl") == DataFile("a.jsonl", 1.0)
    assert parse("a.jsonl:2") == DataFile("a.jsonl", 2.0)
    assert parse("a.jsonl:0.5") == DataFile("a.jsonl", 0.5)
    write(tmp_path / "odd:3", records(0, 2))  # an existing file's name is never split
    assert parse("odd:3") == DataFile("odd:3", 1.0)


@pytest.mark.parametrize(
    "value, message",
    [
        ("a.jsonl:0", "the weight must be a number above 0"),
        ("a.jsonl:-1", "the weight must be a number above 0"),
        ("a.jsonl:nan", "the weight must be a number above 0"),
        ("a.jsonl:two", "the weight after ':' must be a number"),
        ("missing.jsonl:2", "file 'missing.jsonl' does not exist"),
    ],
)
def test_bad_weights_and_missing_files_are_refused(tmp_path, value, message):
    write(tmp_path / "a.jsonl", records(0, 2))
    with pytest.raises(click.BadParameter, match=message):
        parse(value)


def test_a_bad_weight_is_a_usage_error_exit_2(tmp_path):
    write(tmp_path / "a.jsonl", records(0, 2))
    result = train("--model", tmp_path, "--data", "a.jsonl:0", "--output", "out")
    assert result.exit_code == 2 and "the weight must be a number above 0" in result.stderr
    assert not (tmp_path / "out").exists()


# --- mixing ---------------------------------------------------------------------------------------------


class Item:
    def __init__(self, path, n):
        self.path, self.n = path, n

    def __repr__(self):
        return f"{self.path}#{self.n}"


def test_weights_repeat_or_subsample_each_files_examples_deterministically():
    items = [Item("a", i) for i in range(10)] + [Item("b", i) for i in range(4)] + [Item("c", i) for i in range(6)]
    files = [DataFile("a", 1.0), DataFile("b", 2.0), DataFile("c", 0.5)]
    mixed = weighted(items, files, seed=7)
    count = lambda path: sum(1 for x in mixed if x.path == path)  # noqa: E731
    assert (count("a"), count("b"), count("c")) == (10, 8, 3)
    assert all(sum(1 for x in mixed if x is item) == 2 for item in items if item.path == "b")
    assert len({id(x) for x in mixed if x.path == "c"}) == 3  # a half, no repeats
    assert [repr(x) for x in weighted(items, files, seed=7)] == [repr(x) for x in mixed]
    one_and_a_half = weighted(items, [DataFile("a", 1.5)], seed=1)
    assert sum(1 for x in one_and_a_half if x.path == "a") == 15


# --- the gate sees every file ---------------------------------------------------------------------------


def test_every_data_file_is_linted_and_findings_name_the_file(tmp_path):
    a = write(tmp_path / "a.jsonl", records(0, 3))
    b = write(
        tmp_path / "b.jsonl",
        records(3, 2) + [{"messages": [{"role": "user", "content": "Hi?"}, {"role": "user", "content": "Anyone?"}]}],
    )
    with Gate([a, b], None) as checked:
        assert not checked.verdict.passed
        assert any(f.startswith(f"{b}:3: R003") for f in checked.verdict.findings), checked.verdict.findings
        assert set(checked.snapshot.files) == {a, b}
    result = train("--model", tmp_path, "--data", a, "--data", f"{b}:2", "--output", "out")
    assert result.exit_code == 1 and f"{b}:3: R003" in result.stdout
    assert not (tmp_path / "out").exists()


def test_a_leak_from_any_data_file_into_eval_is_found(tmp_path):
    a = write(tmp_path / "a.jsonl", records(0, 3))
    b = write(tmp_path / "b.jsonl", records(3, 3))
    ev = write(tmp_path / "eval.jsonl", records(4, 1) + records(20, 2))
    with Gate([a, b], ev) as checked:
        assert not checked.verdict.passed
        assert any(" L001 " in f for f in checked.verdict.findings), checked.verdict.findings


def test_a_certificate_must_cover_every_data_file(tmp_path):
    a = write(tmp_path / "a.jsonl", records(0, 3))
    b = write(tmp_path / "b.jsonl", records(3, 3))
    cert = str(tmp_path / "cert.json")
    assert CliRunner().invoke(cli, ["lint", a, "--certificate", cert]).exit_code == 0
    with Gate([a, b], None, certificate=cert) as checked:
        assert not checked.verdict.passed
        assert checked.verdict.findings == [f"{cert}: {b} is not covered by this certificate"]
    assert CliRunner().invoke(cli, ["lint", a, b, "--certificate", cert]).exit_code == 0
    with Gate([a, b], None, certificate=cert) as checked:
        assert checked.verdict.passed and checked.verdict.checked_by == "certificate+lint"


def test_one_file_given_twice_is_refused(tmp_path):
    a = write(tmp_path / "a.jsonl", records(0, 3))
    result = train("--model", tmp_path, "--data", a, "--data", "./a.jsonl:2", "--output", "out")
    assert result.exit_code == 2
    assert "are the same file: give each data file once" in result.stderr
    ev = write(tmp_path / "b.jsonl", records(3, 3))
    result = train("--model", tmp_path, "--data", a, "--data", ev, "--eval", "./b.jsonl", "--output", "out")
    assert result.exit_code == 2 and "train and eval data must be different files" in result.stderr


# --- end to end, with the tokenizer alone ---------------------------------------------------------------


@pytest.fixture
def tokenizer_dir(tmp_path):
    pytest.importorskip("transformers")
    from curate.train.tinymodel import build_tokenizer

    texts = [m["content"] for r in records(0, 30) for m in r["messages"]] + ["question answer"]
    build_tokenizer(texts, vocab_size=360).save_pretrained(tmp_path / "tok")
    return "tok"


@pytest.mark.slow
def test_dry_run_mixes_the_files_by_weight(tmp_path, tokenizer_dir):
    write(tmp_path / "a.jsonl", records(0, 6))
    write(tmp_path / "b.jsonl", records(6, 6))
    write(tmp_path / "eval.jsonl", records(20, 3))
    result = train(
        "--model",
        tokenizer_dir,
        "--data",
        "a.jsonl",
        "--data",
        "b.jsonl:2",
        "--eval",
        "eval.jsonl",
        "--output",
        "out",
        "--dry-run",
        "--preview",
        0,
    )
    assert result.exit_code == 0, result.output
    assert "dry run: 18 train and 3 eval examples render" in result.stdout


@pytest.mark.slow
def test_a_field_mapped_dataset_trains_with_the_mapping_applied(tmp_path, tokenizer_dir):
    (tmp_path / "curate.toml").write_text('[fields]\nprompt = "question"\nresponse = "answer"\n')
    rows = [{"question": m[0]["content"], "answer": m[1]["content"]} for m in (r["messages"] for r in records(0, 8))]
    write(tmp_path / "qa.jsonl", rows)
    write(tmp_path / "eval.jsonl", [{"question": "What is 1 plus 1?", "answer": "1 plus 1 is 2."}])
    result = train(
        "--model",
        tokenizer_dir,
        "--data",
        "qa.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        "out",
        "--dry-run",
        "--preview",
        1,
        "--preview-json",
        "p.json",
    )
    assert result.exit_code == 0, result.output
    assert "dry run: 8 train and 1 eval examples render, 0 excluded" in result.stdout
    [example] = json.loads((tmp_path / "p.json").read_text())["examples"]
    trained = "".join(s["text"] for s in example["segments"] if s["train"])
    prompt = "".join(s["text"] for s in example["segments"] if not s["train"])
    assert trained.startswith("2 plus 5 is 7.") and "Exercise 0: what is 2 plus 5?" in prompt


def test_the_report_lists_every_file_with_its_hash_and_weight(tmp_path):
    pytest.importorskip("torch")
    from curate.config import Config
    from curate.snapshot import Snapshot
    from curate.train.config import TrainConfig
    from curate.train.run import RunInputs, _data_files

    a = write(tmp_path / "a.jsonl", records(0, 3))
    b = write(tmp_path / "b.jsonl", records(3, 3))
    with Snapshot([(a, "train"), (b, "train")], Config()) as snapshot:
        inputs = RunInputs("m", (DataFile(a), DataFile(b, 2.0)), None, "out", TrainConfig(), snapshot=snapshot)
        entries = _data_files(inputs)
        assert [(e["split"], e["path"], e.get("weight")) for e in entries] == [("train", a, None), ("train", b, 2.0)]
        assert entries[1]["sha256"] == snapshot.files[b].sha256
