"""One training run after the gate: data, model, Trainer, adapter, report and reload check."""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass

import torch

from curate.certificate import file_sha256
from curate.splitting import split_records
from curate.train import checks, is_main_process
from curate.train import model as models
from curate.train.config import TrainConfig
from curate.train.data import Encoded, Example, Excluded, build_dataset, read_examples
from curate.train.report import loss_curves, plot_losses, write_report
from curate.train.trainer import build_trainer, loss_not_falling


class RunFailed(RuntimeError):
    """The run went wrong in a way the user must fix (exit 1); the message says how."""


@dataclass(frozen=True)
class RunInputs:
    """What the command line names: where things are, and the merged config."""

    model: str
    data: str
    eval: str | None
    output: str
    config: TrainConfig
    chat_template: str | None = None
    certificate: str | None = None
    gate: dict | None = None  # the gate's report: how it passed, the lint configuration used
    snapshot: object = None  # curate.snapshot.Snapshot: the bytes the gate hashed and linted


def _split_train_eval(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """The leakage-aware split of ``curate split``: near-duplicate clusters never straddle train and eval."""
    if len(examples) < 2:
        raise RunFailed("need at least 2 examples to hold out an eval set: pass --eval FILE")
    train_idx, eval_idx = split_records(examples, (1 - fraction, fraction), seed)
    if not eval_idx or not train_idx:
        raise RunFailed("the data is one near-duplicate cluster: no leak-free eval set can be held out; pass --eval FILE")
    return [examples[i] for i in train_idx], [examples[i] for i in eval_idx]


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _datasets(inputs: RunInputs, tokenizer) -> tuple[list[Encoded], list[Encoded], list[Excluded]]:
    """Encoded train and eval sets (eval: --eval, or held out of --data) and the examples left out."""
    config = inputs.config
    train_examples = read_examples(inputs.data, inputs.snapshot)
    if inputs.eval:
        eval_examples = read_examples(inputs.eval, inputs.snapshot)
    else:
        train_examples, eval_examples = _split_train_eval(train_examples, config.eval_fraction, config.seed)
    train_set, excluded = build_dataset(tokenizer, train_examples, config.max_seq_len)
    eval_set, eval_excluded = build_dataset(tokenizer, eval_examples, config.max_seq_len)
    excluded += eval_excluded
    if is_main_process():
        for item in excluded:
            warn(f"{item.path}:{item.line}: excluded: {item.reason}")
    if not train_set or not eval_set:
        raise RunFailed(f"no {'train' if not train_set else 'eval'} example is left to use after exclusions")
    return train_set, eval_set, excluded


def run(inputs: RunInputs) -> dict:
    """Train, save the adapter and tokenizer, check the reload, and return the report (rank 0 writes it)."""
    config = inputs.config
    started = time.time()
    tokenizer = models.load_tokenizer(inputs.model, inputs.chat_template)
    train_set, eval_set, excluded = _datasets(inputs, tokenizer)
    precision_name = models.precision()
    if config.method == "qlora" and not torch.cuda.is_available() and is_main_process():
        warn("QLoRA without a CUDA GPU runs on the CPU through bitsandbytes: it works, but slowly")
    model = models.add_lora(models.load_model(inputs.model, config.method, precision_name), config)
    trainable, total = model.get_nb_trainable_parameters()
    trainer, monitor = build_trainer(model, tokenizer, train_set, eval_set, config, inputs.output, precision_name)
    metrics = trainer.train().metrics
    state = trainer.state
    train_points, eval_points = loss_curves(state.log_history)
    report = {
        "status": "ok",
        "model": inputs.model,
        "method": config.method,
        "precision": precision_name,
        "compute_dtype": models.qlora_compute_dtype(precision_name) if config.method == "qlora" else precision_name,
        "config": config.to_dict(),
        "gate": inputs.gate or {"checked_by": "lint", "certificate": inputs.certificate},
        "data": _data_files(inputs),
        "parameters": {"trainable": trainable, "total": total},
        "examples": {
            "train": len(train_set),
            "eval": len(eval_set),
            "excluded": [{"path": x.path, "line": x.line, "reason": x.reason} for x in excluded],
        },
        "loss": train_points,
        "eval_loss": eval_points,
        "best_checkpoint": state.best_model_checkpoint,
        "best_eval_loss": state.best_metric,
        "global_step": state.global_step,
        "epochs": state.epoch,
        "train_runtime_s": metrics["train_runtime"],
        "tokens_seen": state.num_input_tokens_seen,
        "tokens_per_second": round(state.num_input_tokens_seen / metrics["train_runtime"], 1),
        "warnings": [],
    }
    main = trainer.is_world_process_zero()
    if monitor.problem:
        report["status"] = "diverged"
        if main:
            _write(inputs.output, report, started)
        raise RunFailed(monitor.problem)
    not_falling = loss_not_falling([p["loss"] for p in train_points])
    if not_falling:
        report["warnings"].append(not_falling)
        if main:
            warn(not_falling)
    trainer.save_model(inputs.output)
    if not main:
        return report
    del model, trainer  # free the accelerator for the reload check
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        difference = checks.check_adapter_reload(
            inputs.model, inputs.output, config.method, precision_name, eval_set[0].input_ids
        )
        report["adapter_check"] = {"passed": True, "max_logit_difference": difference}
    except checks.AdapterCheckError as exc:
        report.update(status="adapter-check-failed", adapter_check={"passed": False, "error": str(exc)})
        raise RunFailed(str(exc)) from exc
    finally:
        _write(inputs.output, report, started)
    return report


def _write(output_dir: str, report: dict, started: float) -> None:
    """Write the report and the loss plot."""
    report["wall_time_s"] = round(time.time() - started, 3)
    write_report(output_dir, report)
    plot_losses(output_dir, report["loss"], report["eval_loss"])


def _data_files(inputs: RunInputs) -> list[dict]:
    files = [("train", inputs.data)] + ([("eval", inputs.eval)] if inputs.eval else [])
    hashed = inputs.snapshot.files if inputs.snapshot else {}
    return [{"split": split, "path": path, "sha256": hashed[path].sha256 if path in hashed else file_sha256(path)}
            for split, path in files]
