"""The transformers Trainer set up for adapter fine-tuning, and the training diagnostics."""

from __future__ import annotations

import math
from pathlib import Path

from transformers import (
    DataCollatorForSeq2Seq,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from curate.train.config import ConfigError, TrainConfig
from curate.train.data import IGNORE_INDEX, Encoded

# A logged loss this many times the first one means training has blown up.
EXPLODE_FACTOR = 4.0


class DivergenceMonitor(TrainerCallback):
    """Stops training as soon as a logged loss is NaN/inf or explodes; ``problem`` says what happened."""

    def __init__(self, lr: float):
        self.lr = lr
        self.first: float | None = None
        self.problem: str | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if self.first is None:
            self.first = loss
        if not math.isfinite(loss):
            what = f"the loss became {loss} at step {state.global_step}"
        elif self.first > 0 and loss > EXPLODE_FACTOR * self.first:
            what = f"the loss exploded to {loss:.4g} at step {state.global_step} (from {self.first:.4g})"
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
        raise ConfigError(f"invalid training settings: {str(exc).splitlines()[0]}") from exc


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
