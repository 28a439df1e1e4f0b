"""The model card (``README.md``) written with the adapter: on what data, through which gate, how trained."""

from __future__ import annotations

import json
from pathlib import Path

from curate.atomic import atomic_write_text
from curate.certificate import file_sha256, load_certificate

CARD_NAME = "README.md"


def write_model_card(output_dir: str, report: dict) -> Path:
    """Replace peft's empty card template in ``output_dir`` with one built from the run's ``report``."""
    path = Path(output_dir) / CARD_NAME
    atomic_write_text(str(path), model_card(report))
    return path


def model_card(report: dict) -> str:
    """The card's Markdown, with the Hub's YAML metadata on top."""
    config = report["config"]
    method = report["method"]
    examples = report["examples"]
    lines = [
        "---",
        f"base_model: {report['model']}",
        "library_name: peft",
        "pipeline_tag: text-generation",
        f"tags: [curate, {method}, peft]",
        "---",
        "",
        f"# {method.upper()} adapter for {report['model']}",
        "",
        "Trained with `curate train` on data that passed curate's lint gate.",
        "",
        "## Training",
        "",
        f"- Base model: `{report['model']}`",
        f"- Method: {method} ({_method_details(report)})",
        (
            f"- LoRA: r={config['lora_r']}, alpha={config['lora_alpha']}, dropout={config['lora_dropout']}, "
            f"target modules: {_targets(config['target_modules'])}"
        ),
        (
            f"- Schedule: lr {config['lr']:g} ({config['scheduler']}, warm-up {config['warmup']:g}), "
            f"batch {config['batch_size']} x {config['grad_accum']} accumulation, max length {config['max_seq_len']}, "
            f"packing {'on' if config.get('packing') else 'off'}, seed {config['seed']}"
        ),
        f"- Steps: {report['global_step']} ({_epochs(report['epochs'])} epochs)"
        + (", stopped early on eval loss" if report.get("early_stopping", {}).get("stopped") else ""),
        "",
        "## Data and gate",
        "",
        *_gate_lines(report),
        "",
        "| split | file | sha256 |",
        "|---|---|---|",
        *[f"| {d['split']} | `{d['path']}` | `{d['sha256']}` |" for d in report["data"]],
        "",
        f"Examples: {examples['train']} train, {examples['eval']} eval, {len(examples['excluded'])} excluded"
        + (" (listed in `train_report.json`)." if examples["excluded"] else "."),
        "",
        "## Evaluation",
        "",
        *_eval_lines(report),
        "",
        "Full record: `train_report.json` (configuration, loss per step, eval loss per epoch).",
        "",
    ]
    return "\n".join(lines)


def _method_details(report: dict) -> str:
    if report["method"] == "qlora":
        return f"4-bit NF4 base, double quantization, {report['compute_dtype']} compute"
    return f"{report['precision']} base"


def _targets(targets) -> str:
    return targets if isinstance(targets, str) else ", ".join(targets)


def _epochs(epochs) -> str:
    return f"{epochs:.3g}" if isinstance(epochs, (int, float)) else str(epochs)


def _gate_lines(report: dict) -> list[str]:
    gate = report["gate"]
    certificate, checked_by = gate.get("certificate"), gate.get("checked_by", "lint")
    config = gate.get("config") or {}
    where = f"`{config['file']}` (sha256 `{config.get('sha256')}`)" if config.get("file") else "the built-in defaults"
    lines = [f"Gate path: `{checked_by}`; lint configuration: {where}."]
    if gate.get("disabled_safety_rules"):
        lines.append(f"Safety rules the configuration turned off: {', '.join(gate['disabled_safety_rules'])}.")
    if checked_by.startswith("certificate") and certificate:
        lines.append(
            f"The lint certificate `{certificate}` (sha256 `{file_sha256(certificate)}`) matched the data"
            + (" and a fresh lint found no error." if checked_by.endswith("+lint") else "; its signature verified.")
        )
        try:
            summary = load_certificate(certificate).get("summary")
        except Exception:  # noqa: BLE001 - the card never fails the run
            summary = None
        if summary:
            lines.append(f"Lint summary (from the certificate): `{json.dumps(summary, sort_keys=True)}`")
        return lines
    return lines + ["A fresh `curate lint` of the data at training time found no error."]


def _eval_lines(report: dict) -> list[str]:
    points = report.get("eval_loss") or []
    if not points:
        return ["No evaluation was run."]
    lines = [f"Best eval loss: {report['best_eval_loss']:.4f}" if report.get("best_eval_loss") is not None else ""]
    lines += ["", "| epoch | step | eval loss |", "|---|---|---|"]
    lines += [
        f"| {_epochs(p['epoch'])} | {p['step']} | {p['eval_loss']:.4f} |" for p in points if p["eval_loss"] is not None
    ]
    return lines
