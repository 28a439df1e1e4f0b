"""``curate export ADAPTER [--merge] --output DIR``: the adapter alone, or merged into its base model."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click

from curate.errors import CurateError
from curate.train.model import first_line
from curate.train.noise import quiet_third_parties

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
# What travels with the adapter when it is exported without merging.
SIDE_FILES = (
    "README.md",
    "train_report.json",
    "loss.png",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "tokenizer.model",
)
# Largest logit difference accepted between the adapter on its base and the merged model.
MERGE_TOLERANCE = 1e-3


class ExportError(CurateError):
    """The adapter cannot be exported as asked; one line, exit 2 (or 1 for a merge that changes outputs)."""


@click.command("export")
@click.argument("adapter", type=click.Path(exists=True, file_okay=False))
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Directory to write (must be empty).")
@click.option("--merge", is_flag=True, help="Merge the adapter into the base model and write a full model.")
@click.option("--model", "base", help="Base model; default: the one the adapter was trained on.")
def export_command(adapter, output, merge, base):
    """Export an adapter written by curate train: as it is, or merged into its base model (--merge)."""
    try:
        _check_dirs(adapter, output)
        if merge:
            with quiet_third_parties():
                difference = merge_adapter(adapter, output, base or base_model(adapter))
            click.echo(f"merged model written to {output} (largest logit change from the adapter: {difference:.2g})")
        else:
            copied = copy_adapter(adapter, output)
            click.echo(f"adapter written to {output} ({', '.join(copied)})")
    except ExportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _check_dirs(adapter: str, output: str) -> None:
    missing = [name for name in ADAPTER_FILES if not (Path(adapter) / name).is_file()]
    if missing:
        raise ExportError(f"{adapter} is not an adapter directory: no {', '.join(missing)}")
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"--output {output} exists and is not an empty directory")


def base_model(adapter: str) -> str:
    """The base model named in the adapter's config (the report's ``model`` when that exists)."""
    report = Path(adapter) / "train_report.json"
    if report.is_file():
        return json.loads(report.read_text(encoding="utf-8"))["model"]
    return json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]


def copy_adapter(adapter: str, output: str) -> list[str]:
    """Copy the adapter and the files that describe it."""
    Path(output).mkdir(parents=True, exist_ok=True)
    copied = []
    for name in ADAPTER_FILES + SIDE_FILES:
        if (Path(adapter) / name).is_file():
            shutil.copy2(Path(adapter) / name, Path(output) / name)
            copied.append(name)
    return copied


def merge_adapter(adapter: str, output: str, base: str) -> float:
    """Merge the adapter into an unquantized copy of ``base``, check it, save model and tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(adapter)
        peft_model = PeftModel.from_pretrained(model, adapter).eval()
    except Exception as exc:  # OSError, ValueError, safetensors errors...
        raise ExportError(f"cannot load {adapter} onto {base}: {first_line(exc)}") from exc
    probe = torch.tensor([tokenizer("The adapter check.", add_special_tokens=False)["input_ids"] or [0]])
    with torch.no_grad():
        expected = peft_model(input_ids=probe).logits
        merged = peft_model.merge_and_unload()
        difference = (merged(input_ids=probe).logits - expected).abs().max().item()
    if difference > MERGE_TOLERANCE:
        raise ExportError(f"the merged model's outputs differ from the adapter's by {difference:.3g}; nothing written")
    merged.save_pretrained(output)
    tokenizer.save_pretrained(output)
    if (Path(adapter) / "README.md").is_file():
        shutil.copy2(Path(adapter) / "README.md", Path(output) / "README.md")
    return difference
