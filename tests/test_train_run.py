"""``curate train`` end to end on a tiny Llama model built offline, through the click command."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("peft")
pytest.importorskip("bitsandbytes")

from curate.train.checks import AdapterCheckError, check_adapter_reload  # noqa: E402
from curate.train.cli import train_command  # noqa: E402
from curate.train.tinymodel import main as tinymodel_main  # noqa: E402
from curate.train.trainer import DivergenceMonitor, loss_not_falling  # noqa: E402

pytestmark = pytest.mark.slow

CITIES = ["Paris", "Rome", "Madrid", "Berlin", "Vienna", "Lisbon", "Dublin", "Oslo"]
LONG_LINE = 7  # the record whose reply cannot fit in --max-seq-len 128


def conversations(numbers: range) -> list[dict]:
    """Distinct, lint-clean conversations, some multi-turn with an unweighted reply."""
    records = []
    for i in numbers:
        a, b = 3 * i + 2, 7 * i + 5
        city = CITIES[i % len(CITIES)]
        messages = [
            {"role": "system", "content": "You are a patient tutor."},
            {"role": "user", "content": f"Exercise {i}: what is {a} plus {b}?"},
            {"role": "assistant", "content": f"{a} plus {b} is {a + b}."},
        ]
        if i % 4 == 1:
            messages += [
                {"role": "user", "content": f"Which city did note {i} mention?"},
                {"role": "assistant", "content": f"Note {i} mentioned {city}.", "weight": 0},
                {"role": "user", "content": f"Spell that city for exercise {i}, please."},
                {"role": "assistant", "content": f"{city} is spelled {'-'.join(city.upper())}."},
            ]
        records.append({"messages": messages})
    return records


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """train.jsonl (40 conversations, one with a reply far longer than 128 tokens), eval.jsonl and train.toml."""
    root = tmp_path_factory.mktemp("train")
    train = conversations(range(40))
    train[LONG_LINE - 1]["messages"][-1]["content"] = "Counting up: " + ", ".join(str(n) for n in range(300, 420)) + "."
    write_jsonl(root / "train.jsonl", train)
    write_jsonl(root / "eval.jsonl", conversations(range(40, 46)))
    (root / "train.toml").write_text("[train]\nlogging_steps = 1\nepochs = 2\nbatch_size = 4\ngrad_accum = 1\n")
    return root


@pytest.fixture(scope="session")
def tiny_model(workdir):
    """A tiny Llama model and BPE tokenizer saved like any user's model, built as the README demo does."""
    tinymodel_main([str(workdir / "tiny"), "--data", str(workdir / "train.jsonl")])
    return str(workdir / "tiny")


def train(workdir, *args):
    """Run ``curate train`` in ``workdir`` (so no checkout config applies)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workdir)
        return CliRunner().invoke(train_command, [str(a) for a in args])


@pytest.fixture(scope="session")
def lora_run(workdir, tiny_model):
    output = workdir / "lora"
    result = train(
        workdir,
        "--model",
        tiny_model,
        "--data",
        "train.jsonl",
        "--output",
        output,
        "--config",
        "train.toml",
        "--max-seq-len",
        128,
        "--lr",
        5e-3,
        "--lora-r",
        8,
    )
    assert result.exit_code == 0, result.output
    return result, output, json.loads((output / "train_report.json").read_text())


def test_lora_writes_adapter_tokenizer_report_and_plot(lora_run):
    _, output, _ = lora_run
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (output / name).is_file(), name
    assert json.loads((output / "adapter_config.json").read_text())["r"] == 8
    assert (output / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_matches_the_run(lora_run, workdir):
    _, output, report = lora_run
    assert report["status"] == "ok" and report["method"] == "lora" and report["precision"] == "fp32"
    config = report["config"]
    assert (config["lr"], config["lora_r"], config["max_seq_len"], config["epochs"], config["logging_steps"]) == (
        5e-3,
        8,
        128,
        2,
        1,
    )
    assert config["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    digest = hashlib.sha256((workdir / "train.jsonl").read_bytes()).hexdigest()
    assert report["data"] == [{"split": "train", "path": "train.jsonl", "sha256": digest}]
    assert 0 < report["parameters"]["trainable"] < report["parameters"]["total"]
    assert report["examples"]["train"] + report["examples"]["eval"] == 39
    assert report["examples"]["train_rows"] < report["examples"]["train"]  # packed
    steps_per_epoch = -(-report["examples"]["train_rows"] // 4)
    assert report["global_step"] == 2 * steps_per_epoch
    assert [p["step"] for p in report["loss"]] == list(range(1, report["global_step"] + 1))
    assert [p["epoch"] for p in report["eval_loss"]] == [1.0, 2.0]
    best = min(report["eval_loss"], key=lambda p: p["eval_loss"])
    assert report["best_eval_loss"] == best["eval_loss"]
    assert report["best_checkpoint"].endswith(f"checkpoint-{best['step']}")
    assert report["tokens_seen"] > 0 and report["tokens_per_second"] > 0 and report["wall_time_s"] > 0
    assert report["adapter_check"]["passed"] and report["adapter_check"]["max_logit_difference"] > 0
    assert report["gate"]["checked_by"] == "lint" and report["gate"]["certificate"] is None
    assert report["gate"]["config"] == {"file": None, "sha256": None} and report["gate"]["disabled_safety_rules"] == []


def test_reply_cut_by_max_seq_len_is_excluded_and_reported(lora_run):
    result, _, report = lora_run
    [excluded] = report["examples"]["excluded"]
    assert (excluded["path"], excluded["line"]) == ("train.jsonl", LONG_LINE)
    assert "max_seq_len" in excluded["reason"]
    assert f"train.jsonl:{LONG_LINE}: excluded:" in result.stderr


def test_reload_check_fails_for_a_zeroed_adapter(lora_run, tiny_model, tmp_path):
    from safetensors.torch import load_file, save_file

    _, output, _ = lora_run
    adapter = tmp_path / "adapter"
    shutil.copytree(output, adapter, ignore=shutil.ignore_patterns("checkpoints"))
    weights = load_file(adapter / "adapter_model.safetensors")
    save_file({name: tensor.zero_() for name, tensor in weights.items()}, adapter / "adapter_model.safetensors")
    input_ids = list(range(3, 40))
    assert check_adapter_reload(tiny_model, str(output), "lora", "fp32", input_ids) > 0
    with pytest.raises(AdapterCheckError, match="does not change the base model's outputs"):
        check_adapter_reload(tiny_model, str(adapter), "lora", "fp32", input_ids)


def test_qlora_trains_on_cpu_with_an_eval_file(workdir, tiny_model):
    output = workdir / "qlora"
    result = train(
        workdir,
        "--model",
        tiny_model,
        "--data",
        "train.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        output,
        "--method",
        "qlora",
        "--max-steps",
        3,
        "--batch-size",
        8,
        "--grad-accum",
        1,
        "--max-seq-len",
        128,
        "--lr",
        5e-3,
    )
    assert result.exit_code == 0, result.output
    assert "QLoRA without a CUDA GPU" in result.stderr
    report = json.loads((output / "train_report.json").read_text())
    assert (report["method"], report["compute_dtype"], report["status"]) == ("qlora", "bf16", "ok")
    assert report["adapter_check"]["passed"]
    assert (output / "adapter_model.safetensors").is_file()
    assert [f["split"] for f in report["data"]] == ["train", "eval"]
    assert (report["examples"]["train"], report["examples"]["eval"]) == (39, 6)


def test_exploding_training_stops_and_blames_the_learning_rate(workdir, tiny_model):
    output = workdir / "diverged"
    result = train(
        workdir,
        "--model",
        tiny_model,
        "--data",
        "train.jsonl",
        "--output",
        output,
        "--epochs",
        1,
        "--batch-size",
        8,
        "--grad-accum",
        1,
        "--max-seq-len",
        128,
        "--lr",
        50,
        "--no-packing",
    )
    assert result.exit_code == 1
    assert "training stopped" in result.stderr and "learning rate (50) is likely too high" in result.stderr
    assert json.loads((output / "train_report.json").read_text())["status"] == "diverged"
    assert not (output / "adapter_model.safetensors").exists()


def test_tokenizer_without_chat_template_needs_one(workdir, tiny_model, tmp_path):
    model = tmp_path / "plain"
    shutil.copytree(tiny_model, model)
    template = (model / "chat_template.jinja").read_text()
    (model / "chat_template.jinja").unlink()
    args = ["--model", model, "--data", "train.jsonl", "--max-seq-len", 128, "--max-steps", 2, "--lr", 5e-3]
    result = train(workdir, *args, "--output", tmp_path / "out")
    assert one_error_line(result) == (
        f"error: the tokenizer of {model} has no chat template: pass one with --chat-template FILE"
    )
    (tmp_path / "template.jinja").write_text(template)
    result = train(workdir, *args, "--output", tmp_path / "out", "--chat-template", tmp_path / "template.jinja")
    assert result.exit_code == 0, result.output


def torchrun(workdir, *args):
    """``curate train`` in two CPU processes under torchrun."""
    launcher = workdir / "launch_train.py"
    launcher.write_text('from curate.train.cli import train_command\ntrain_command(prog_name="curate train")\n')
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(launcher)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        command + [str(a) for a in args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )


def test_torchrun_trains_data_parallel_and_rank_0_reports(workdir, tiny_model):
    output = workdir / "ddp"
    result = torchrun(
        workdir,
        "--model",
        tiny_model,
        "--data",
        "train.jsonl",
        "--output",
        output,
        "--epochs",
        1,
        "--batch-size",
        4,
        "--grad-accum",
        1,
        "--max-seq-len",
        128,
        "--lr",
        5e-3,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((output / "train_report.json").read_text())
    assert report["global_step"] == -(-report["examples"]["train_rows"] // 8)  # two ranks share each step
    assert report["adapter_check"]["passed"]
    assert result.stdout.count("adapter written to") == 1
    assert result.stderr.count(f"train.jsonl:{LONG_LINE}: excluded:") == 1


def test_torchrun_gate_refuses_on_every_rank_and_reports_once(workdir, tmp_path):
    dirty = workdir / "dirty.jsonl"
    dirty.write_text(json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}))
    result = torchrun(workdir, "--model", workdir, "--data", dirty, "--output", tmp_path / "out")
    assert result.returncode != 0
    assert result.stdout.count(f"{dirty}:1: R003") == 1, result.stderr
    assert result.stderr.count("refusing to train") == 1
    assert not (tmp_path / "out").exists()


def one_error_line(result, code=2):
    assert result.exit_code == code, result.output
    [line] = [x for x in result.stderr.strip().splitlines() if not x.startswith("gate: ")]  # the gate's note
    assert line.startswith("error: ")
    return line


def test_missing_model_path_is_one_line_exit_2(workdir, tmp_path):
    result = train(workdir, "--model", tmp_path / "nope", "--data", "train.jsonl", "--output", tmp_path / "out")
    assert one_error_line(result) == f"error: model path not found: {tmp_path / 'nope'}"


def test_unloadable_model_is_one_line_exit_2(workdir, tiny_model, tmp_path):
    model = tmp_path / "broken"
    shutil.copytree(tiny_model, model)
    (model / "model.safetensors").write_bytes(b"not a safetensors file")
    result = train(workdir, "--model", model, "--data", "train.jsonl", "--output", tmp_path / "out")
    assert one_error_line(result).startswith(f"error: cannot load model {model}: ")


def test_unknown_config_key_is_one_line_exit_2(workdir, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[train]\nlearning_rate = 0.1\n")
    result = train(
        workdir, "--model", tmp_path, "--data", "train.jsonl", "--output", tmp_path / "o", "--config", config
    )
    assert "unknown key 'learning_rate'" in one_error_line(result)


def test_missing_train_extra_is_one_line_exit_2(workdir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)
    result = train(workdir, "--model", tmp_path, "--data", "train.jsonl", "--output", tmp_path / "out")
    assert one_error_line(result) == 'error: training needs the train extra: pip install "curate-sft[train]"'


def test_out_of_memory_suggests_remedies(workdir, tmp_path, monkeypatch):
    import torch

    import curate.train.run

    def out_of_memory(inputs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(curate.train.run, "run", out_of_memory)
    result = train(workdir, "--model", tmp_path, "--data", "train.jsonl", "--output", tmp_path / "out")
    line = one_error_line(result, 1)
    assert "--batch-size" in line and "--gradient-checkpointing" in line and "--method qlora" in line


def test_divergence_monitor_flags_nan_and_explosions():
    from transformers import TrainerControl, TrainerState

    def feed(*logs):
        monitor, control, state = DivergenceMonitor(lr=0.1), TrainerControl(), TrainerState()
        for step, log in enumerate(logs, 1):
            state.global_step = step
            monitor.on_log(None, state, control, logs=log)
        return monitor, control

    monitor, control = feed({"loss": 2.0, "grad_norm": 1.0}, {"loss": 1.5, "grad_norm": 2.0})
    assert monitor.problem is None and not control.should_training_stop
    monitor, control = feed({"loss": 2.0}, {"loss": float("nan")})
    assert control.should_training_stop and "the loss became nan at step 2" in monitor.problem
    monitor, _ = feed({"loss": 2.0}, {"loss": 9.0})
    assert "the loss exploded to 9" in monitor.problem and "learning rate (0.1)" in monitor.problem
    monitor, _ = feed({"loss": 2.0, "grad_norm": 0.5}, {"loss": 2.0, "grad_norm": float("inf")})
    assert monitor.problem is None  # fp16 loss scaling overflows are skipped steps, not divergence
    monitor, _ = feed({"loss": 2.0, "grad_norm": 0.5}, {"loss": 2.0, "grad_norm": 5000.0})
    assert "the gradient norm exploded" in monitor.problem


def test_loss_not_falling_is_reported():
    assert loss_not_falling([3.0, 2.5, 2.0, 1.5]) is None
    assert "did not fall" in loss_not_falling([2.0, 2.1, 2.0, 2.2])
    assert loss_not_falling([2.0]) is None


def test_model_card_says_where_the_adapter_came_from(lora_run, workdir):
    _, output, report = lora_run
    card = (output / "README.md").read_text()
    digest = hashlib.sha256((workdir / "train.jsonl").read_bytes()).hexdigest()
    assert card.startswith("---\nbase_model: ")
    for fact in (
        "Method: lora",
        "r=8, alpha=32",
        "fresh `curate lint`",
        digest,
        f"{report['examples']['train']} train",
        "1 excluded",
        f"Best eval loss: {report['best_eval_loss']:.4f}",
    ):
        assert fact in card, fact


def test_export_copies_the_adapter_or_merges_it(lora_run, tmp_path):
    from curate.cli import cli

    _, output, _ = lora_run
    result = CliRunner().invoke(cli, ["export", str(output), "--output", str(tmp_path / "adapter")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    result = CliRunner().invoke(cli, ["export", str(output), "--merge", "--output", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "merged" / "model.safetensors").is_file() and (tmp_path / "merged" / "tokenizer.json").is_file()
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    result = CliRunner().invoke(cli, ["export", str(output), "--output", str(tmp_path / "merged")])
    assert result.exit_code == 2 and "is not an empty directory" in result.stderr


def test_one_step_smoke_run_then_resume(workdir, tiny_model, tmp_path):
    out = tmp_path / "smoke"
    small = ["--max-seq-len", 128, "--batch-size", 2, "--grad-accum", 1, "--lora-r", 4]
    result = train(
        workdir,
        "--model",
        tiny_model,
        "--data",
        "train.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        out,
        "--max-steps",
        1,
        *small,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "train_report.json").read_text())
    assert report["global_step"] == 1 and report["adapter_check"]["passed"]
    assert report["trained_tokens"] > 0 and report["tokens_per_second"] > 0
    assert report["training_time_s"] <= report["train_runtime_s"]
    assert report["padding_fraction"]["training"] == 0.0 < report["padding_fraction"]["unpacked"]
    assert report["config"]["gradient_checkpointing"] is False
    again = train(workdir, "--model", tiny_model, "--data", "train.jsonl", "--output", out, "--max-steps", 2, *small)
    assert again.exit_code == 2 and "is not empty: pass --resume" in again.stderr
    resumed = train(
        workdir,
        "--model",
        tiny_model,
        "--data",
        "train.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        out,
        "--max-steps",
        2,
        "--resume",
        *small,
    )
    assert resumed.exit_code == 0, resumed.output
    report = json.loads((out / "train_report.json").read_text())
    assert report["resumed"] and report["global_step"] == 2
    generations = [(g["example"], g["step"]) for g in report["generations"]]
    assert generations == [("eval.jsonl:1", 2), ("eval.jsonl:2", 2)]  # one eval prompt's reply each epoch
    assert all(isinstance(g["reply"], str) for g in report["generations"])
    assert [p["step"] for p in report["loss"]][-1] == 2


def test_report_to_tensorboard_writes_event_files_in_the_output(workdir, tiny_model, tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "tb"
    result = train(
        workdir,
        "--model",
        tiny_model,
        "--data",
        "train.jsonl",
        "--eval",
        "eval.jsonl",
        "--output",
        out,
        "--max-steps",
        2,
        "--max-seq-len",
        128,
        "--batch-size",
        2,
        "--grad-accum",
        1,
        "--lora-r",
        4,
        "--report-to",
        "tensorboard",
    )
    assert result.exit_code == 0, result.output
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = EventAccumulator(str(out / "tensorboard")).Reload().Tags()["scalars"]
    assert "train/loss" in scalars and "eval/loss" in scalars
    assert not list((out / "checkpoints").glob("**/events.out.tfevents.*"))
