"""The transformers Trainer set up for adapter fine-tuning, and the training diagnostics."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from transformers import (
    DataCollatorForSeq2Seq,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from curate.train.config import ConfigError, TrainConfig
from curate.train.data import IGNORE_INDEX, Encoded
from curate.train.model import first_line

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


def training_arguments(config: TrainConfig, output_dir: str, precision_name: str) -> TrainingArguments:
    """TrainingArguments from the run's config; checkpoints go to ``OUTPUT/checkpoints``."""
    try:
        return _arguments(config, output_dir, precision_name)
    except ValueError as exc:  # e.g. an unknown scheduler name
        raise ConfigError(f"invalid training settings: {first_line(exc)}") from exc


def _arguments(config: TrainConfig, output_dir: str, precision_name: str) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(Path(output_dir) / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        warmup_steps=config.warmup,
        lr_scheduler_type=config.scheduler,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        bf16=precision_name == "bf16",
        fp16=precision_name == "fp16",
        activation_checkpointing=config.gradient_checkpointing,
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
        report_to="none",
        seed=config.seed,
    )


def build_trainer(
    model, tokenizer, train_set: list[Encoded], eval_set: list[Encoded], config: TrainConfig, output_dir: str, precision_name: str
) -> tuple[Trainer, DivergenceMonitor]:
    """A Trainer with early stopping on eval loss and the divergence monitor."""
    monitor = DivergenceMonitor(config.lr)
    trainer = Trainer(
        model=model,
        args=training_arguments(config, output_dir, precision_name),
        train_dataset=[_features(example) for example in train_set],
        eval_dataset=[_features(example) for example in eval_set],
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX),
        processing_class=tokenizer,
        callbacks=[monitor, EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)],
    )
    return trainer, monitor


def _features(example: Encoded) -> dict:
    return {"input_ids": example.input_ids, "attention_mask": [1] * len(example.input_ids), "labels": example.labels}
