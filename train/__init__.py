"""Gated LoRA/QLoRA fine-tuning: ``curate train`` trains only on data that passed the lint."""

import os


def is_main_process() -> bool:
    """True on rank 0 of a torchrun/accelerate launch, and in a single-process run."""
    return os.environ.get("RANK", "0") == "0"
