"""One training run after the gate: data, model, Trainer, adapter, report and reload check."""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass

import torch
from transformers import EarlyStoppingCallback

from curate.certificate import file_sha256
from curate.snapshot import Snapshot
from curate.splitting import split_records
from curate.train import checks, is_main_process, tokcache
from curate.train import model as models
from curate.train.config import TrainConfig
from curate.train.data import Encoded, Example, Excluded, TemplateError, collect_dataset, read_examples
from curate.train.mixing import DataFile, weighted
from curate.train.modelcard import write_model_card
from curate.train.packing import length_grouped, padding_fraction
from curate.train.render import inspect_template
from curate.train.report import loss_curves, plot_losses, write_report
from curate.train.trainer import build_trainer, loss_not_falling


class RunFailed(RuntimeError):
    """The run went wrong in a way the user must fix (exit 1); the message says how."""


@dataclass(frozen=True)
class RunInputs:
    """What the command line names: where things are, and the merged config."""

    model: str
    data: tuple[DataFile, ...] | str  # the --data files and their weights (a bare path: weight 1)
    eval: str | None
    output: str
    config: TrainConfig
    chat_template: str | None = None
    certificate: str | None = None
    gate: dict | None = None  # the gate's report: how it passed, the lint configuration used
    snapshot: Snapshot | None = None  # the bytes the gate hashed and linted
    resume: bool = False


def _split_train_eval(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """The leakage-aware split of ``curate split``: near-duplicate clusters never straddle train and eval."""
    if len(examples) < 2:
        raise RunFailed("need at least 2 examples to hold out an eval set: pass --eval FILE")
    train_idx, eval_idx = split_records(examples, (1 - fraction, fraction), seed)
    if not eval_idx or not train_idx:
        raise RunFailed(
            "the data is one near-duplicate cluster: no leak-free eval set can be held out; pass --eval FILE"
        )
    return [examples[i] for i in train_idx], [examples[i] for i in eval_idx]


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass
class Prepared:
    """The encoded train and eval sets, the examples left out, and the template's findings."""

    train: list[Encoded]
    eval: list[Encoded]
    excluded: list[Excluded]
    unrenderable: list[Excluded]
    notes: list[str]


def _datasets(inputs: RunInputs, tokenizer) -> Prepared:
    """Encoded train and eval sets (eval: --eval, or held out of --data), before any model loads."""
    config = inputs.config
    files = data_files(inputs)
    encoded: dict[int, Encoded | TemplateError] = {}  # by id() of the example
    train_examples = [e for f in files for e in _read_encoded(inputs, f.path, tokenizer, encoded)]
    if inputs.eval:
        eval_examples = _read_encoded(inputs, inputs.eval, tokenizer, encoded)
    else:
        train_examples, eval_examples = _split_train_eval(train_examples, config.eval_fraction, config.seed)
    train_data = collect_dataset(train_examples, [encoded[id(e)] for e in train_examples], config.max_seq_len)
    train_data.kept = weighted(train_data.kept, files, config.seed)
    eval_data = collect_dataset(eval_examples, [encoded[id(e)] for e in eval_examples], config.max_seq_len)
    notes = []
    system_note = inspect_template(tokenizer).system_note
    if system_note and any(
        e.messages and e.messages[0].get("role") == "system" for e in train_examples + eval_examples
    ):
        notes.append(system_note)
    return Prepared(
        train_data.kept,
        eval_data.kept,
        train_data.excluded + eval_data.excluded,
        train_data.unrenderable + eval_data.unrenderable,
        notes,
    )


def _read_encoded(inputs: RunInputs, path: str, tokenizer, encoded: dict) -> list[Example]:
    """A file's examples, their encodings (cached, ``num_proc`` workers) added to ``encoded`` by example id."""
    examples = read_examples(path, inputs.snapshot)
    snapshot = inputs.snapshot
    sha = snapshot.files[path].sha256 if snapshot and path in snapshot.files else file_sha256(path)
    record_format = getattr(snapshot.config, "format", None) if snapshot else None
    key = tokcache.cache_key(sha, record_format, tokcache.tokenizer_fingerprint(tokenizer), inputs.config.max_seq_len)
    for example, result in zip(examples, tokcache.encode_all(tokenizer, examples, key, inputs.config.num_proc)):
        encoded[id(example)] = result
    return examples


def _checked(prepared: Prepared) -> Prepared:
    """Report notes and exclusions; refuse (before any model loads) when an example cannot be rendered."""
    if is_main_process():
        for note in prepared.notes:
            warn(note)
        for item in prepared.excluded:
            warn(f"{item.path}:{item.line}: excluded: {item.reason}")
        for finding in prepared.unrenderable:
            print(finding, flush=True)
    if prepared.unrenderable:
        raise RunFailed(
            f"refusing to train: the chat template cannot render {len(prepared.unrenderable)} example(s) "
            "(listed above); fix them or pass a template that can with --chat-template FILE"
        )
    if not prepared.train or not prepared.eval:
        raise RunFailed(f"no {'train' if not prepared.train else 'eval'} example is left to use after exclusions")
    return prepared


def run(inputs: RunInputs) -> dict:
    """Train, save the adapter and tokenizer, check the reload, and return the report (rank 0 writes it)."""
    config = inputs.config
    started = time.time()
    tokenizer = models.load_tokenizer(inputs.model, inputs.chat_template)
    prepared = _checked(_datasets(inputs, tokenizer))
    precision_name = models.precision()
    if config.method == "qlora" and not torch.cuda.is_available() and is_main_process():
        warn("QLoRA without a CUDA GPU runs on the CPU through bitsandbytes: it works, but slowly")
    model = models.add_lora(models.load_model(inputs.model, config.method, precision_name), config)
    trainer, monitor = build_trainer(
        model, tokenizer, prepared.train, prepared.eval, config, inputs.output, precision_name
    )
    metrics = trainer.train(resume_from_checkpoint=True if inputs.resume else None).metrics
    report = _report(inputs, prepared, model, trainer, metrics, precision_name)
    main = trainer.is_world_process_zero()
    if monitor.problem:
        report["status"] = "diverged"
        if main:
            _write(inputs.output, report, started)
        raise RunFailed(monitor.problem)
    not_falling = loss_not_falling([p["loss"] for p in report["loss"]])
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
            inputs.model, inputs.output, config.method, precision_name, prepared.eval[0].input_ids
        )
        report["adapter_check"] = {"passed": True, "max_logit_difference": difference}
    except checks.AdapterCheckError as exc:
        report.update(status="adapter-check-failed", adapter_check={"passed": False, "error": str(exc)})
        raise RunFailed(str(exc)) from exc
    finally:
        _write(inputs.output, report, started)
    return report


def _report(inputs: RunInputs, prepared: Prepared, model, trainer, metrics: dict, precision_name: str) -> dict:
    """The run's record, as far as training goes (the reload check is added after)."""
    config, state = inputs.config, trainer.state
    trainable, total = model.get_nb_trainable_parameters()
    train_points, eval_points = loss_curves(state.log_history)
    training_s = max(metrics["train_runtime"] - trainer.overhead_s, 1e-9)
    return {
        "status": "ok",
        "model": inputs.model,
        "method": config.method,
        "precision": precision_name,
        "compute_dtype": models.qlora_compute_dtype(precision_name) if config.method == "qlora" else precision_name,
        "config": {**config.to_dict(), "gradient_checkpointing": config.checkpointing},
        "gate": inputs.gate or {"checked_by": "lint", "certificate": inputs.certificate},
        "data": _data_files(inputs),
        "parameters": {"trainable": trainable, "total": total},
        "examples": {
            "train": len(prepared.train),
            "eval": len(prepared.eval),
            "train_rows": len(trainer.train_dataset),
            "excluded": [{"path": x.path, "line": x.line, "reason": x.reason} for x in prepared.excluded],
        },
        "padding_fraction": padding_report(prepared.train, config),
        "loss": train_points,
        "eval_loss": eval_points,
        "best_checkpoint": state.best_model_checkpoint,
        "best_eval_loss": state.best_metric,
        "early_stopping": early_stopping(trainer, config),
        "generations": trainer.samples.samples,
        "resumed": inputs.resume,
        "global_step": state.global_step,
        "epochs": state.epoch,
        "train_runtime_s": metrics["train_runtime"],
        "training_time_s": round(training_s, 3),
        "tokens_seen": state.num_input_tokens_seen,
        "trained_tokens": trainer.trained_tokens,
        "tokens_per_second": round(trainer.trained_tokens / training_s, 1),
        "warnings": [],
    }


def padding_report(train_set: list[Encoded], config: TrainConfig) -> dict:
    """The share of padding: batches of consecutive examples padded to their longest, and as trained."""
    lengths = [len(e.input_ids) for e in train_set]
    grouped = [lengths[i] for i in length_grouped(lengths, config.batch_size, config.seed)]
    return {
        "unpacked": padding_fraction(lengths, config.batch_size),
        "training": 0.0 if config.packing else padding_fraction(grouped, config.batch_size),
        "packing": config.packing,
    }


def early_stopping(trainer, config: TrainConfig) -> dict:
    """Whether early stopping ended the run, and where."""
    callback = next((c for c in trainer.callback_handler.callbacks if isinstance(c, EarlyStoppingCallback)), None)
    stopped = callback is not None and callback.early_stopping_patience_counter >= config.early_stopping_patience
    state = trainer.state
    return {
        "patience": config.early_stopping_patience,
        "stopped": stopped,
        "at_step": state.global_step if stopped else None,
        "at_epoch": state.epoch if stopped else None,
    }


def _write(output_dir: str, report: dict, started: float) -> None:
    """Write the report and the loss plot."""
    report["wall_time_s"] = round(time.time() - started, 3)
    write_report(output_dir, report)
    plot_losses(output_dir, report["loss"], report["eval_loss"])
    write_model_card(output_dir, report)


def data_files(inputs: RunInputs) -> list[DataFile]:
    """The ``--data`` files with their weights."""
    return [DataFile(inputs.data)] if isinstance(inputs.data, str) else list(inputs.data)


def _data_files(inputs: RunInputs) -> list[dict]:
    """The report's data entries: split, path, SHA-256, and a train file's weight when it is not 1."""
    files = [("train", f) for f in data_files(inputs)] + ([("eval", DataFile(inputs.eval))] if inputs.eval else [])
    hashed = inputs.snapshot.files if inputs.snapshot else {}
    entries = []
    for split, f in files:
        sha = hashed[f.path].sha256 if f.path in hashed else file_sha256(f.path)
        entries.append(
            {"split": split, "path": f.path, "sha256": sha, **({"weight": f.weight} if f.weight != 1 else {})}
        )
    return entries
