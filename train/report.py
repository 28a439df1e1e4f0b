"""The run's record: ``train_report.json`` and the ``loss.png`` curves."""

from __future__ import annotations

import json
import math
from pathlib import Path

REPORT_NAME = "train_report.json"
PLOT_NAME = "loss.png"


def loss_curves(log_history: list[dict]) -> tuple[list[dict], list[dict]]:
    """``(train, eval)`` points from the Trainer's log history: step, epoch and loss or eval_loss.

    A NaN or infinite loss becomes ``None`` (JSON null), so the report stays standard JSON.
    """

    def points(key: str) -> list[dict]:
        return [
            {"step": entry["step"], "epoch": entry.get("epoch"), key: entry[key] if math.isfinite(entry[key]) else None}
            for entry in log_history
            if key in entry
        ]

    return points("loss"), points("eval_loss")


def write_report(output_dir: str, report: dict) -> Path:
    """Write ``report`` as ``train_report.json`` in ``output_dir``."""
    path = Path(output_dir) / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def plot_losses(output_dir: str, train: list[dict], evaluation: list[dict]) -> Path:
    """Draw the train and eval loss against the optimizer step into ``loss.png``."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(*_xy(train, "loss"), label="train loss")
    if evaluation:
        ax.plot(*_xy(evaluation, "eval_loss"), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    path = Path(output_dir) / PLOT_NAME
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def _xy(points: list[dict], key: str) -> tuple[list[int], list[float]]:
    return [p["step"] for p in points], [math.nan if p[key] is None else p[key] for p in points]
