"""The transformers Trainer set up for adapter fine-tuning, and the training diagnostics."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch
from torch.utils.data import SequentialSampler
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from curate.train.config import ConfigError, TrainConfig
from curate.train.data import IGNORE_INDEX, Encoded
from curate.train.model import first_line
from curate.train.packing import FlatteningCollator, PaddingCollator, length_grouped, packed_rows, single_rows

# A logged loss this many times the first one means training has blown up.
LOSS_EXPLODE_FACTOR = 4.0
# Likewise for the gradient norm (before clipping), which can explode while clipping keeps the loss flat.
GRAD_EXPLODE_FACTOR = 1000.0


class DivergenceMonitor(TrainerCallback):
    """Stops training when a logged loss is NaN/inf or explodes, or the gradient norm explodes.

    ``problem`` then says what happened. A non-finite gradient norm alone is not a
    divergence: fp16 loss scaling produces those and skips the step.
    """

    def __init__(self, lr: float):
        self.lr = lr
        self.first: dict[str, float] = {}
        self.problem: str | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        loss, grad_norm = logs.get("loss"), logs.get("grad_norm")
        if loss is None:
            return
        finite_norm = grad_norm is not None and math.isfinite(grad_norm)
        first_loss = self.first.setdefault("loss", loss)
        first_norm = self.first.setdefault("grad_norm", grad_norm) if finite_norm else None
        step = state.global_step
        if not math.isfinite(loss):
            what = f"the loss became {loss} at step {step}"
        elif first_loss > 0 and loss > LOSS_EXPLODE_FACTOR * first_loss:
            what = f"the loss exploded to {loss:.4g} at step {step} (from {first_loss:.4g})"
        elif finite_norm and grad_norm > GRAD_EXPLODE_FACTOR * first_norm > 0:
            what = f"the gradient norm exploded to {grad_norm:.4g} at step {step} (from {first_norm:.4g})"
        else:
            return
        self.problem = (
            f"training stopped: {what}; the learning rate ({self.lr:g}) is likely too high: "
            "lower it with --lr (e.g. by 10x), or check the data for extreme examples"
        )
        control.should_training_stop = True


class SampleGenerations(TrainerCallback):
    """After each evaluation, greedy replies to a few eval prompts, kept for the report."""

    def __init__(self, tokenizer, eval_set: list[Encoded], count: int = 2, max_new_tokens: int = 32):
        self.tokenizer = tokenizer
        self.prompts = [_prompt(e) for e in eval_set[:count]]
        self.max_new_tokens = max_new_tokens
        self.samples: list[dict] = []

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if model is None or not state.is_world_process_zero:
            return
        for (path, line), ids in self.prompts:
            with torch.no_grad():
                output = model.generate(
                    input_ids=torch.tensor([ids], device=model.device),
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    use_cache=True,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            reply = self.tokenizer.decode(output[0, len(ids) :])
            self.samples.append(
                {"epoch": state.epoch, "step": state.global_step, "example": f"{path}:{line}", "reply": reply}
            )


def _prompt(example: Encoded) -> tuple[tuple[str, int], list[int]]:
    """The tokens before the example's first trained one: the prompt of its first trained reply."""
    first = next(i for i, label in enumerate(example.labels) if label != IGNORE_INDEX)
    return (example.path, example.line), example.input_ids[:first]


def loss_not_falling(losses: list[float]) -> str | None:
    """A warning when the mean of the last quarter of logged losses is not below that of the first quarter."""
    if len(losses) < 2:
        return None
    k = max(1, len(losses) // 4)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    if last < first:
        return None
    return (
        f"the training loss did not fall ({first:.4g} -> {last:.4g}): "
        "check the learning rate (--lr), the number of steps, and that the data has something to learn"
    )


def training_arguments(
    config: TrainConfig, output_dir: str, precision_name: str, total_steps: int
) -> TrainingArguments:
    """TrainingArguments from the run's config; checkpoints go to ``OUTPUT/checkpoints``."""
    try:
        return _arguments(config, output_dir, precision_name, total_steps)
    except ValueError as exc:  # e.g. an unknown scheduler name
        raise ConfigError(f"invalid training settings: {first_line(exc)}") from exc


def warmup_steps(config: TrainConfig, total_steps: int) -> int:
    """Warm-up in steps (a ratio below 1), never all of them: the last step must train at a learning rate above 0."""
    steps = math.ceil(config.warmup * total_steps) if config.warmup < 1 else int(config.warmup)
    return max(0, min(steps, total_steps - 1))


def _arguments(config: TrainConfig, output_dir: str, precision_name: str, total_steps: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(Path(output_dir) / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        warmup_steps=warmup_steps(config, total_steps),
        lr_scheduler_type=config.scheduler,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        bf16=precision_name == "bf16",
        fp16=precision_name == "fp16",
        activation_checkpointing=config.checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        prediction_loss_only=True,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_nan_inf_filter=False,
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        dataloader_pin_memory=torch.cuda.is_available(),
        # torchrun on CPU-only machines: distributed over gloo instead of N independent runs
        use_cpu=not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1,
        report_to=config.report_to,
        disable_tqdm=False,
        seed=config.seed,
    )


class QuietProgress(ProgressCallback):
    """One training progress bar: no raw log dicts under it (they go to the report), no eval bar."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        return


class CurateTrainer(Trainer):
    """The Trainer, counting trained tokens and the time spent on training alone (not eval, not saving)."""

    samples: SampleGenerations  # its sample-generation callback (build_trainer sets it)

    def __init__(self, *args, ordered: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.ordered = ordered
        self.trained_tokens = 0
        self.overhead_s = 0.0
        self.remove_callback(ProgressCallback)
        self.remove_callback(PrinterCallback)
        self.add_callback(QuietProgress)

    def _get_train_sampler(self, train_dataset=None):
        if self.ordered:  # length-grouped order, prepared in advance
            return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)
        return super()._get_train_sampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            self.trained_tokens += int((inputs["labels"][..., 1:] != IGNORE_INDEX).sum())
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def evaluate(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            self.overhead_s += time.perf_counter() - started

    def _save_checkpoint(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return super()._save_checkpoint(*args, **kwargs)
        finally:
            self.overhead_s += time.perf_counter() - started


def total_steps(rows: int, config: TrainConfig) -> int:
    """Optimizer steps the run will take (``max_steps``, or the epochs over ``rows`` training rows)."""
    if config.max_steps > 0:
        return config.max_steps
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_epoch = max(1, math.ceil(math.ceil(rows / (config.batch_size * world)) / config.grad_accum))
    return max(1, math.ceil(per_epoch * config.epochs))


def build_trainer(
    model,
    tokenizer,
    train_set: list[Encoded],
    eval_set: list[Encoded],
    config: TrainConfig,
    output_dir: str,
    precision_name: str,
) -> tuple[CurateTrainer, DivergenceMonitor]:
    """A Trainer with early stopping on eval loss, the divergence monitor, and packed or length-grouped batches."""
    monitor = DivergenceMonitor(config.lr)
    collator: FlatteningCollator | PaddingCollator
    if config.packing:
        train_rows, collator = packed_rows(train_set, config.max_seq_len), FlatteningCollator()
    else:
        order = length_grouped([len(e.input_ids) for e in train_set], config.batch_size, config.seed)
        train_rows, collator = single_rows([train_set[i] for i in order]), PaddingCollator(tokenizer.pad_token_id)
    samples = SampleGenerations(tokenizer, eval_set)
    trainer = CurateTrainer(
        model=model,
        args=training_arguments(config, output_dir, precision_name, total_steps(len(train_rows), config)),
        train_dataset=train_rows,
        eval_dataset=single_rows(eval_set),
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[monitor, EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience), samples],
        ordered=not config.packing,
    )
    trainer.samples = samples
    _log_tensorboard_to(trainer, Path(output_dir) / "tensorboard")
    return trainer, monitor


def _log_tensorboard_to(trainer: CurateTrainer, directory: Path) -> None:
    """TensorBoard event files go to ``directory`` unless $TENSORBOARD_LOGGING_DIR chooses a place (set per run)."""
    if os.environ.get("TENSORBOARD_LOGGING_DIR"):
        return
    for callback in trainer.callback_handler.callbacks:
        if type(callback).__name__ == "TensorBoardCallback":
            callback.logging_dir = str(directory)
