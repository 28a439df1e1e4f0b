"""``curate train --dry-run``: render and mask every example with the tokenizer alone, and preview the result."""

from __future__ import annotations

import json
from pathlib import Path

import click

from curate.atomic import atomic_write_text
from curate.train import model as models
from curate.train.data import IGNORE_INDEX, Encoded
from curate.train.run import Prepared, RunInputs, _datasets, padding_report

TRAINED_OPEN, TRAINED_CLOSE = "[[", "]]"


def segments(tokenizer, encoded: Encoded) -> list[dict]:
    """Runs of tokens that do or do not carry loss, decoded: concatenated they are the decoded input ids."""
    runs: list[dict] = []
    for token, label in zip(encoded.input_ids, encoded.labels):
        train = label != IGNORE_INDEX
        if runs and runs[-1]["train"] == train:
            runs[-1]["ids"].append(token)
        else:
            runs.append({"ids": [token], "train": train})
    return [{"text": tokenizer.decode(run["ids"]), "train": run["train"]} for run in runs]


def preview_document(tokenizer, prepared: Prepared, count: int, config) -> dict:
    """The ``--preview-json`` document: the first ``count`` examples' segments, the exclusions, token counts.

    Examples come in file order, train before eval (held-out eval examples come from the train file).
    """
    kept = sorted(prepared.train, key=lambda e: e.line) + sorted(prepared.eval, key=lambda e: e.line)
    total = sum(len(e.input_ids) for e in kept)
    trained = sum(label != IGNORE_INDEX for e in kept for label in e.labels)
    padding = padding_report(prepared.train, config) if prepared.train else {"unpacked": 0.0, "training": 0.0}
    left_out = [{"path": x.path, "line": x.line, "reason": x.reason} for x in prepared.excluded]
    left_out += [
        {"path": x.path, "line": x.line, "reason": x.reason, "unrenderable": True} for x in prepared.unrenderable
    ]
    return {
        "examples": [{"path": e.path, "line": e.line, "segments": segments(tokenizer, e)} for e in kept[:count]],
        "excluded": left_out,
        "tokens": {
            "total": total,
            "trained": trained,
            "padding_fraction": padding["training"],
            "padding_fraction_unpacked": padding["unpacked"],
        },
    }


def dry_run(inputs: RunInputs, preview: int, preview_json: str | None) -> int:
    """Load the tokenizer only, render and mask every example, print findings and a preview; 0 if all render."""
    tokenizer = models.load_tokenizer(inputs.model, inputs.chat_template)
    prepared = _datasets(inputs, tokenizer)
    document = preview_document(tokenizer, prepared, preview, inputs.config)
    for note in prepared.notes:
        click.echo(f"note: {note}", err=True)
    for item in prepared.excluded:
        click.echo(f"{item}: excluded", err=True)
    for item in prepared.unrenderable:
        click.echo(str(item))
    for example in document["examples"]:
        click.echo(f"--- {example['path']}:{example['line']} (trained text between {TRAINED_OPEN} {TRAINED_CLOSE})")
        click.echo("".join(_marked(s) for s in example["segments"]))
    tokens = document["tokens"]
    click.echo(
        f"dry run: {len(prepared.train)} train and {len(prepared.eval)} eval examples render, "
        f"{len(prepared.excluded)} excluded, {len(prepared.unrenderable)} cannot be rendered; "
        f"{tokens['trained']} of {tokens['total']} tokens trained; padding {tokens['padding_fraction_unpacked']:.1%} "
        f"unpacked, {tokens['padding_fraction']:.1%} as trained"
    )
    if preview_json:
        Path(preview_json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(preview_json, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return 1 if prepared.unrenderable else 0


def _marked(segment: dict) -> str:
    return f"{TRAINED_OPEN}{segment['text']}{TRAINED_CLOSE}" if segment["train"] else segment["text"]
