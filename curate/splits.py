"""Which split a dataset file belongs to, from the words of its name."""

from __future__ import annotations

import fnmatch
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


def resolve_split(path: str, overrides: dict[str, str], globs: dict[str, list[str]] | None = None) -> str:
    """--split NAME=PATH first, then config split globs, then the file name."""
    norm = os.path.normpath(path)
    for target, name in overrides.items():
        if os.path.normpath(target) == norm:
            return name
    for name, patterns in (globs or {}).items():
        if any(fnmatch.fnmatch(norm, os.path.normpath(p)) for p in patterns):
            return name
    return split_from_name(path)
