"""The ``--output`` directory: never mix a new run with an old one by accident."""

from __future__ import annotations

import shutil
from pathlib import Path

from curate.errors import CurateError
from curate.train.report import REPORT_NAME

# What a curate train run writes; --overwrite clears a directory only when it holds some of these.
RUN_FILES = (REPORT_NAME, "adapter_config.json", "adapter_model.safetensors", "checkpoints", "loss.png")


class OutputError(CurateError):
    """The output directory cannot be used as asked; one line, exit 2."""


def prepare_output(output: str, resume: bool, overwrite: bool) -> None:
    """Check ``output`` before any model loads: empty, resumable (``resume``) or a run to replace (``overwrite``)."""
    if resume and overwrite:
        raise OutputError("--resume and --overwrite exclude each other")
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise OutputError(f"--output {output} is a file, not a directory")
    entries = list(path.iterdir()) if path.is_dir() else []
    if resume:
        if not last_checkpoint(output):
            raise OutputError(f"nothing to resume: {path / 'checkpoints'} holds no checkpoint")
        return
    if not entries:
        return
    if not overwrite:
        raise OutputError(
            f"--output {output} is not empty: pass --resume to continue its run, --overwrite to replace it, "
            "or choose another directory"
        )
    if not any((path / name).exists() for name in RUN_FILES):
        raise OutputError(f"--output {output} does not hold a curate train run; --overwrite only replaces one")
    for entry in entries:
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def last_checkpoint(output: str) -> str | None:
    """The newest ``checkpoint-N`` directory under ``OUTPUT/checkpoints``."""
    root = Path(output) / "checkpoints"
    found = [p for p in root.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return str(max(found, key=lambda p: int(p.name.split("-")[-1]))) if found else None
