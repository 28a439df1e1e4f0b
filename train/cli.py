"""``curate train``: the gated LoRA/QLoRA fine-tune command.

Importing this module is cheap: torch and transformers are imported only once
the gate has passed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

import click

from curate.errors import CurateError
from curate.train import is_main_process
from curate.train.config import METHODS, REPORT_TO, TrainConfig, check_report_to, load_config
from curate.train.gate import Gate
from curate.train.mixing import DataFileParam
from curate.train.model import check_model_source, first_line
from curate.train.noise import quiet_third_parties
from curate.train.outputdir import prepare_output
from curate.train.report import REPORT_NAME

if TYPE_CHECKING:
    from curate.snapshot import Snapshot

TRAIN_EXTRA_HINT = 'training needs the train extra: pip install "curate-sft[train]"'
OOM_ADVICE = (
    "out of memory: try a smaller --batch-size (with a larger --grad-accum to keep the effective batch), "
    "--gradient-checkpointing, or --method qlora"
)

GATE_REPORT_GRACE_S = 30


class RunSettings(NamedTuple):
    """What the command line names, in ``RunInputs`` order (that class needs torch to import)."""

    model: str
    data: tuple  # of curate.train.mixing.DataFile
    eval: str | None
    output: str
    config: TrainConfig
    chat_template: str | None
    certificate: str | None
    gate: dict
    snapshot: Snapshot | None  # the bytes the gate hashed and linted
    resume: bool


_FILE = click.Path(exists=True, dir_okay=False)


def _fail(message: str, code: int) -> NoReturn:
    """Print one ``error:`` line on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.command("train")
@click.option("--model", "model", required=True, help="Base model: a local directory or a Hugging Face Hub name.")
@click.option(
    "--data",
    "data",
    required=True,
    multiple=True,
    type=DataFileParam(),
    help="Training conversations (JSONL, gzipped JSONL or a JSON array); repeat for several files, "
    "FILE:WEIGHT to over- or undersample one (2 = each example twice).",
)
@click.option("--eval", "eval_path", type=_FILE, help="Eval conversations; default: a seeded 90/10 split of --data.")
@click.option(
    "--output", "output", required=True, type=click.Path(file_okay=False), help="Directory for the adapter and report."
)
@click.option("--method", type=click.Choice(METHODS), help="lora (default) or qlora (4-bit NF4 base).")
@click.option(
    "--config", "config_path", type=_FILE, help="TOML config ([train] table, or [tool.curate.train] in pyproject.toml)."
)
@click.option("--certificate", type=_FILE, help="A lint certificate for the data; without one the data is linted now.")
@click.option("--key-file", type=_FILE, help="Key that signed --certificate (default: $CURATE_CERT_KEY when set).")
@click.option("--epochs", type=float, help="Training epochs [3].")
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps (overrides --epochs).")
@click.option("--lr", type=float, help="Peak learning rate [2e-4].")
@click.option("--batch-size", type=int, help="Per-device batch size [4].")
@click.option("--grad-accum", type=int, help="Gradient accumulation steps [4].")
@click.option("--max-seq-len", type=int, help="Longest example in tokens [2048]; longer replies are excluded.")
@click.option("--lora-r", type=int, help="LoRA rank [16].")
@click.option("--lora-alpha", type=int, help="LoRA alpha [32].")
@click.option("--target-modules", help="Comma-separated module names, or all-linear [q_proj,k_proj,v_proj,o_proj].")
@click.option("--seed", type=int, help="Random seed [42].")
@click.option("--chat-template", type=_FILE, help="Jinja chat template to use instead of the tokenizer's.")
@click.option(
    "--gradient-checkpointing/--no-gradient-checkpointing",
    default=None,
    help="Trade compute for memory [on for qlora, off for lora].",
)
@click.option(
    "--packing/--no-packing",
    default=None,
    help="Pack examples into rows without padding [on]; off: length-grouped batches.",
)
@click.option("--num-proc", type=int, help="Processes that tokenize the data [1]; tokenization is cached either way.")
@click.option("--report-to", type=click.Choice(REPORT_TO), help="Also log to TensorBoard or Weights & Biases [none].")
@click.option("--resume", is_flag=True, help="Continue the run in --output from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace the run already in --output.")
@click.option("--dry-run", is_flag=True, help="Load the tokenizer only: render and mask every example, preview, exit.")
@click.option(
    "--preview", type=click.IntRange(min=0), default=2, show_default=True, help="Examples shown by --dry-run."
)
@click.option("--preview-json", type=click.Path(dir_okay=False), help="With --dry-run: write the preview as JSON.")
def train_command(
    model,
    data,
    eval_path,
    output,
    config_path,
    certificate,
    key_file,
    chat_template,
    resume,
    overwrite,
    dry_run,
    preview,
    preview_json,
    **overrides,
):
    """Fine-tune a LoRA/QLoRA adapter on data that passes the lint (or matches a signed --certificate)."""
    try:
        config = load_config(config_path, overrides)
        check_report_to(config)
        check_model_source(model)
        gate = Gate([f.path for f in data], eval_path, config_path, certificate, key_file)
        if preview_json and not dry_run:
            raise CurateError("--preview-json needs --dry-run")
    except CurateError as exc:
        _fail(str(exc), 2)
    with gate:
        _gated(
            gate,
            RunSettings(
                model, data, eval_path, output, config, chat_template, certificate, gate.report(), gate.snapshot, resume
            ),
            overwrite,
            dry_run,
            preview,
            preview_json,
        )


def _refuse(gate: Gate):
    verdict = gate.verdict
    if is_main_process():
        for finding in verdict.findings:
            click.echo(finding)
        reason = (
            "the certificate does not match the data"
            if verdict.checked_by == "certificate"
            else "the lint found errors"
        )
        click.echo(f"error: refusing to train: {reason} (fix the data, then run curate lint)", err=True)
    else:
        # under torchrun the first rank to exit ends the group: let rank 0 report before that
        time.sleep(GATE_REPORT_GRACE_S)
    sys.exit(1)


def _gated(
    gate: Gate, settings: RunSettings, overwrite: bool, dry_run: bool, preview: int, preview_json: str | None
) -> None:
    """Everything after the gate check: refuse, or train on the gate's snapshot of the data."""
    verdict = gate.verdict
    if is_main_process():
        passed_by = verdict.checked_by if verdict.passed else None
        for line in [f"gate: {note}" for note in verdict.notes] + gate.setup.describe(passed_by):
            click.echo(line, err=True)
    if not verdict.passed:
        _refuse(gate)
    if not dry_run and is_main_process():
        try:
            prepare_output(settings.output, settings.resume, overwrite)
        except CurateError as exc:
            _fail(str(exc), 2)
    with quiet_third_parties():
        report = _train(settings, dry_run, preview, preview_json)
    if is_main_process():
        click.echo(
            f"adapter written to {settings.output} after {report['global_step']} steps; "
            f"report: {Path(settings.output) / REPORT_NAME}"
        )


def _train(settings: RunSettings, dry_run: bool, preview: int, preview_json: str | None) -> dict:
    """Import the training stack, then dry-run or train; every failure is one ``error:`` line."""
    try:
        import peft  # noqa: F401
        import torch
        import transformers  # noqa: F401

        if settings.config.method == "qlora" and not dry_run:
            import bitsandbytes  # noqa: F401
        from curate.train.run import RunFailed, RunInputs, run  # imports the whole training stack
    except ImportError:
        _fail(TRAIN_EXTRA_HINT, 2)
    inputs = RunInputs(*settings)
    try:
        if dry_run:
            from curate.train.dryrun import dry_run as render_only

            sys.exit(render_only(inputs, preview, preview_json))
        return run(inputs)
    except CurateError as exc:
        _fail(str(exc), 2)
    except RunFailed as exc:
        _fail(str(exc), 1)
    except Exception as exc:  # one line, never a traceback
        if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
            _fail(OOM_ADVICE, 1)
        _fail(f"training failed: {type(exc).__name__}: {first_line(exc)}", 1)
