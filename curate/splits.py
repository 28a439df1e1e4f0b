"""Which split a dataset file belongs to, from the words of its name."""

from __future__ import annotations

import os
import re

SPLIT_WORDS = {
    "train": "train", "training": "train",
    "valid": "eval", "validation": "eval", "val": "eval", "eval": "eval", "dev": "eval",
    "test": "test",
}
SPLITS = ("train", "eval", "test", "unsplit", "reference")


def split_from_name(path: str) -> str:
    """train, eval, test or unsplit, from the letter-only words of the file's name."""
    for word in re.split(r"[^a-z]+", os.path.basename(path).lower()):
        if word in SPLIT_WORDS:
            return SPLIT_WORDS[word]
    return "unsplit"


def resolve_split(path: str, overrides: dict[str, str], config=None) -> str:
    """--split NAME=PATH first, then the config's split globs (relative to its directory), then the file name."""
    norm = os.path.abspath(path)
    for target, name in overrides.items():
        if os.path.abspath(target) == norm:
            return name
    by_glob = config.split_of(path) if config is not None else None
    if by_glob:
        return by_glob
    return split_from_name(path)
