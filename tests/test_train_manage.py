"""Run management for ``curate train``: early refusals, the output directory, --dry-run and its preview."""

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

pytest.importorskip("transformers")

from curate.train.cli import train_command  # noqa: E402
from curate.train.config import ConfigError, TrainConfig, check_report_to  # noqa: E402
from curate.train.outputdir import OutputError, last_checkpoint, prepare_output  # noqa: E402
from curate.train.tinymodel import EOS, build_tokenizer  # noqa: E402


def records(n: int) -> list[dict]:
    """Distinct, lint-clean conversations."""
    return [
        {
            "messages": [
                {"role": "system", "content": "You are a patient tutor."},
                {"role": "user", "content": f"Exercise {i}: what is {3 * i + 2} plus {7 * i + 5}?"},
                {
                    "role": "assistant",
                    "content": f"{3 * i + 2} plus {7 * i + 5} is {10 * i + 7}." + " Well done." * (i % 3),
                },
            ]
        }
        for i in range(n)
    ]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """train.jsonl and eval.jsonl, and a tokenizer-only model directory (no weights: --dry-run needs none)."""
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(12)))
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(16)[12:]))
    texts = [m["content"] for r in records(16) for m in r["messages"]]
    build_tokenizer(texts, vocab_size=360).save_pretrained(tmp_path / "tok")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def train(*args):
    return CliRunner().invoke(train_command, [str(a) for a in args])


def error_line(result, code):
    assert result.exit_code == code, result.output
    [line] = [x for x in result.stderr.strip().splitlines() if not x.startswith("gate: ")]  # the gate's note
    return line


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-steps", "0"], "error: max_steps must be at least 1, not 0"),
        (["--epochs", "0"], "error: epochs must be above 0, not 0.0"),
        (["--lr", "-1e-4"], "error: lr must be above 0, not -0.0001"),
    ],
)
def test_impossible_schedules_are_refused_before_any_model_loads(workdir, flags, message):
    result = train("--model", workdir / "missing", "--data", "train.jsonl", "--output", "out", *flags)
    assert error_line(result, 2).startswith(message)


def test_report_to_a_logger_that_is_not_installed_is_refused(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="--report-to tensorboard needs the tensorboard package"):
        check_report_to(TrainConfig(report_to="tensorboard"))


def test_non_empty_output_needs_resume_or_overwrite(tmp_path):
    out = tmp_path / "out"
    (out / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (out / "checkpoints" / "checkpoint-12").mkdir()
    (out / "train_report.json").write_text("{}")
    with pytest.raises(OutputError, match="is not empty: pass --resume"):
        prepare_output(str(out), resume=False, overwrite=False)
    assert last_checkpoint(str(out)).endswith("checkpoint-12")
    prepare_output(str(out), resume=True, overwrite=False)  # resumable: nothing changes
    assert (out / "train_report.json").exists()
    prepare_output(str(out), resume=False, overwrite=True)
    assert list(out.iterdir()) == []
    with pytest.raises(OutputError, match="nothing to resume"):
        prepare_output(str(out), resume=True, overwrite=False)


def test_overwrite_leaves_a_directory_that_is_not_a_run_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="does not hold a curate train run"):
        prepare_output(str(tmp_path), resume=False, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_warm_up_never_takes_the_only_step():
    from curate.train.trainer import warmup_steps

    assert warmup_steps(TrainConfig(max_steps=1), 1) == 0
    assert warmup_steps(TrainConfig(), 100) == 10
    assert warmup_steps(TrainConfig(warmup=50), 20) == 19


def test_early_stopping_is_reported():
    from transformers import EarlyStoppingCallback

    from curate.train.run import early_stopping

    callback = EarlyStoppingCallback(early_stopping_patience=2)
    callback.early_stopping_patience_counter = 2
    trainer = SimpleNamespace(
        callback_handler=SimpleNamespace(callbacks=[callback]), state=SimpleNamespace(global_step=30, epoch=3.0)
    )
    assert early_stopping(trainer, TrainConfig()) == {"patience": 2, "stopped": True, "at_step": 30, "at_epoch": 3.0}


@pytest.mark.slow
def test_dry_run_previews_trained_spans_with_the_tokenizer_alone(workdir):
    result = train(
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
        1,
        "--preview-json",
        "preview.json",
    )
    assert result.exit_code == 0, result.output
    assert not (workdir / "out").exists()
    assert f"[[2 plus 5 is 7.{EOS}]]" in result.stdout
    assert "dry run: 12 train and 4 eval examples render, 0 excluded, 0 cannot be rendered" in result.stdout
    document = json.loads((workdir / "preview.json").read_text())
    [example] = document["examples"]
    assert (example["path"], example["line"]) == ("train.jsonl", 1)
    trained = [s["text"] for s in example["segments"] if s["train"]]
    assert len(trained) == 1 and trained[0].endswith(EOS) and "<|user|>" not in trained[0]
    assert "".join(s["text"] for s in example["segments"]) == (
        "<|bos|><|system|>You are a patient tutor.<|end|><|user|>Exercise 0: what is 2 plus 5?<|end|>"
        f"<|assistant|>2 plus 5 is 7.{EOS}"
    )
    assert document["excluded"] == []
    tokens = document["tokens"]
    assert 0 < tokens["trained"] < tokens["total"] and tokens["padding_fraction"] == 0.0
    assert tokens["padding_fraction_unpacked"] > 0


@pytest.mark.slow
def test_dry_run_exits_1_and_names_the_examples_a_template_cannot_render(workdir):
    (workdir / "t.jinja").write_text(
        "{{ bos_token }}{% for m in messages %}{% if 'Exercise 3:' in m['content'] %}"
        "{{ raise_exception('no exercise 3') }}{% endif %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    )
    result = train(
        "--model",
        "tok",
        "--data",
        "train.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        "out",
        "--chat-template",
        "t.jinja",
        "--dry-run",
        "--preview-json",
        "p.json",
    )
    assert result.exit_code == 1, result.output
    assert "train.jsonl:4: the chat template of t.jinja cannot render this example: no exercise 3" in result.stdout
    excluded = json.loads((workdir / "p.json").read_text())["excluded"]
    assert [(x["path"], x["line"], x.get("unrenderable")) for x in excluded] == [("train.jsonl", 4, True)]


@pytest.mark.slow
def test_training_refuses_unrenderable_examples_before_loading_the_model(workdir):
    (workdir / "t.jinja").write_text(
        "{% for m in messages %}{% if 'Exercise 3:' in m['content'] %}{{ raise_exception('no') }}{% endif %}"
        "{{ m['content'] }}<|end|>{% endfor %}"
    )
    result = train(
        "--model",
        "tok",
        "--data",
        "train.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        "out",
        "--chat-template",
        "t.jinja",
    )
    assert error_line(result, 1).startswith("error: refusing to train: the chat template cannot render 1 example")
    assert "train.jsonl:4: the chat template of t.jinja cannot render this example: no" in result.stdout
