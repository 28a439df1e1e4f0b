"""Split names and groups (the one place that defines them), and which split a dataset file belongs to:
`--split`, config globs, folder structure, then the file's name.

A file is on the training side (train, or unsplit: a file named for no split)
or protected (eval, test, reference: a benchmark given with `--reference` or
named so by `--split`/the config's `splits`). Duplicates and contradictions
are looked for within each group; leaks between the training side and the
protected groups.
"""

from __future__ import annotations

import os
import re

SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "valid": "eval",
    "validation": "eval",
    "val": "eval",
    "eval": "eval",
    "dev": "eval",
    "test": "test",
}
SPLITS = ("train", "eval", "test", "unsplit", "reference")
# What `--split NAME=PATH` and the config's `splits` table may assign (every split).
ASSIGNABLE = SPLITS
# The files `curate split` writes, in this order.
OUTPUT_SPLITS = ("train", "eval", "test")
TRAINING = frozenset({"train", "unsplit"})
PROTECTED = frozenset({"eval", "test", "reference"})
# Group numbers of the cross-record rules: 0 the training side, then each protected split.
TRAIN, EVAL, TEST, REFERENCE = 0, 1, 2, 3
GROUP_OF = {"train": TRAIN, "unsplit": TRAIN, "eval": EVAL, "test": TEST, "reference": REFERENCE}


def split_of_words(name: str) -> str | None:
    """The split named by the letter-only words of a name (`train-00000-of-00003`, `sft_eval`), or None.

    Words are split on non-letters, so `interval.jsonl` is no eval file.
    """
    for word in re.split(r"[^a-z]+", name.lower()):
        if word in SPLIT_WORDS:
            return SPLIT_WORDS[word]
    return None


def split_of_folder(name: str) -> str | None:
    """The split a folder is named for, as a whole name (`train/`, `validation/`), or None.

    Only whole names count: a folder's words (`test_data/`, a test runner's
    `test_x0/`) say less about its files than a file's own name does.
    """
    return SPLIT_WORDS.get(name.lower())


def split_from_name(path: str) -> str:
    """train, eval, test or unsplit, from the letter-only words of the file's name."""
    return split_of_words(os.path.basename(path)) or "unsplit"


def _overridden(path: str, target: str) -> bool:
    """Whether --split's PATH names this file or a folder above it."""
    path, target = os.path.abspath(path), os.path.abspath(target)
    return path == target or path.startswith(target.rstrip(os.sep) + os.sep)


def resolve_split(path: str, overrides: dict[str, str], config=None, structural: str | None = None) -> str:
    """--split NAME=PATH first, then the config's split globs (relative to its directory), then
    `structural` (the split its folders or `datasets` layout name, from discovery), then the file name."""
    chosen = [(len(os.path.abspath(t)), name) for t, name in overrides.items() if _overridden(path, t)]
    if chosen:
        return max(chosen)[1]  # the most specific: the file itself before a folder above it
    by_glob = config.split_of(path) if config is not None else None
    return by_glob or structural or split_from_name(path)
