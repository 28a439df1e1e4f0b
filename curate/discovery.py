"""Which files a run reads: files as given, and the dataset files inside each directory argument.

A directory is walked the way ruff walks a project: hidden files and folders,
virtual environments (any folder holding `pyvenv.cfg`), `node_modules`,
`__pycache__` and the `exclude` / `extend-exclude` / `--exclude` globs are
skipped, `.gitignore` files are honoured, and curate's own rejects files and
`.json` files that hold one document rather than records (a certificate, a
baseline, a model's `config.json` or `vocab.json`, a word list) are never taken
for data. A `datasets` save_to_disk folder stands for its data files, in shard
order; a `DatasetDict` folder for the data files of its splits. A file named
explicitly is always read.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass

from curate.errors import CurateError
from curate.excludes import Excludes, GitIgnores
from curate.filetype import COMPRESSIONS, DATASET_SUFFIXES, decompressed
from curate.split_names import split_of_folder, split_of_words

DATASET_STATE, DATASET_INFO, DATASET_DICT = "state.json", "dataset_info.json", "dataset_dict.json"


@dataclass(frozen=True)
class Found:
    """A dataset file, and the split its folders or `datasets` layout name (None when they name none)."""

    path: str
    split: str | None = None


def discover(paths: list[str], config=None) -> list[Found]:
    """Every dataset file the arguments stand for, each once, in argument order (a directory's sorted)."""
    excludes: Excludes | None = None  # compiled when the first directory is walked
    out: list[Found] = []
    seen: set[str] = set()
    for p in paths:
        if p == "-":
            out.append(Found(p))
            continue
        if os.path.isdir(p):
            excludes = excludes or Excludes.from_config(config)
            found = _walk(p, excludes)
            if not found:
                raise CurateError(
                    f"{p}: no dataset files in this directory (looked for "
                    f"*.jsonl, *.ndjson, *.json, *.parquet, *.arrow, *.csv, *.tsv, compressed too)"
                )
        elif os.path.lexists(p):
            found = [Found(p, folder_split(p, os.path.dirname(os.path.abspath(p))))]
        else:
            raise CurateError(f"{p}: no such file or directory")
        for f in found:
            key = os.path.realpath(f.path)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def expand_paths(paths: list[str], config=None) -> list[str]:
    """The paths of `discover`."""
    return [f.path for f in discover(paths, config)]


def _walk(root: str, excludes: Excludes) -> list[Found]:
    top = os.path.abspath(root)
    ignores = GitIgnores(top)
    found: list[tuple[str, Found]] = []  # (sort key, file): paths, but a Dataset's shards in their own order

    def unreadable(exc: OSError):
        raise CurateError(f"{exc.filename}: cannot read directory: {exc.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        layout = dataset_files(dirpath, filenames)
        if layout is not None:  # a save_to_disk Dataset: its data files and nothing else
            dirnames[:] = []
            found += [
                (
                    os.path.join(dirpath, f"{i:09d}"),
                    Found(os.path.join(dirpath, n), folder_split(os.path.join(dirpath, n), top)),
                )
                for i, n in enumerate(layout)
            ]
            continue
        splits = dict_splits(dirpath) if DATASET_DICT in filenames else None
        if splits is not None:
            dirnames[:] = [d for d in dirnames if d in splits]
            continue
        ignores.enter(dirpath)
        dirnames[:] = [d for d in dirnames if _keep_dir(os.path.join(dirpath, d), excludes, ignores)]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if _keep_file(path, excludes, ignores):
                found.append((path, Found(path, folder_split(path, top))))
    return [f for _, f in sorted(found, key=lambda item: item[0])]


def _keep_dir(path: str, excludes: Excludes, ignores: GitIgnores) -> bool:
    name = os.path.basename(path)
    return not (
        name.startswith(".")
        or os.path.isfile(os.path.join(path, "pyvenv.cfg"))
        or excludes.excluded(path, True)
        or ignores.ignored(path, True)
    )


def _keep_file(path: str, excludes: Excludes, ignores: GitIgnores) -> bool:
    name = os.path.basename(path)
    lower = name.lower()
    if name.startswith(".") or not lower.endswith(DATASET_SUFFIXES) or ".rejects." in lower:
        return False
    if excludes.excluded(path, False) or ignores.ignored(path, False) or not os.path.isfile(path):
        return False  # not a regular file: a FIFO or device found by the walk is never opened
    return not _base(lower).endswith(".json") or not _json_document(path)


def _base(name: str) -> str:
    stem, ext = os.path.splitext(name)
    return stem if ext in COMPRESSIONS else name


def _json_document(path: str) -> bool:
    """A `.json` file that is one JSON document rather than records: a pretty-printed or one-line object
    (a certificate, a baseline, `config.json`, `vocab.json`) or an array of non-objects (a word list).

    JSON lines (two or more lines) and arrays of objects are records; so is anything that is not JSON at
    all, for the reader to report.
    """
    compression = COMPRESSIONS.get(os.path.splitext(path.lower())[1])
    try:
        with open(path, "rb") as raw:
            stream = decompressed(raw, compression) if compression else raw
            head = stream.read(1 << 12).lstrip(b"\xef\xbb\xbf \t\r\n")
            if head.startswith(b"["):
                return head[1:].lstrip()[:1] not in (b"{", b"]")
            if not head.startswith(b"{"):
                return False
            first, newline, rest = head.partition(b"\n")
            if first.strip() == b"{":
                return True
            while not newline:  # the first line goes on: read to its end
                block = stream.read(1 << 20)
                if not block:
                    return True
                first, newline, rest = block.partition(b"\n")
            while not rest.strip():  # anything after the first line?
                rest = stream.read(1 << 20)
                if not rest:
                    return True
            return False
    except (OSError, EOFError, zlib.error, CurateError):
        return False  # the reader reports it


def dataset_files(folder: str, names: list[str]) -> list[str] | None:
    """A save_to_disk `Dataset` folder's data files in shard order (from its state.json), or None."""
    if DATASET_STATE not in names or DATASET_INFO not in names:
        return None
    try:
        with open(os.path.join(folder, DATASET_STATE), encoding="utf-8") as f:
            files = [entry["filename"] for entry in json.load(f)["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError):
        files = sorted(n for n in names if n.startswith("data-") and n.endswith(".arrow"))
    return [n for n in files if isinstance(n, str) and os.path.isfile(os.path.join(folder, n))]


def dict_splits(folder: str) -> list[str] | None:
    """A `DatasetDict` folder's split names (from its dataset_dict.json), or None."""
    try:
        with open(os.path.join(folder, DATASET_DICT), encoding="utf-8") as f:
            splits = json.load(f)["splits"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [s for s in splits if isinstance(s, str)] if isinstance(splits, list) else None


def folder_split(path: str, top: str) -> str | None:
    """The split named by the folders of `path`, from its own folder up to `top`: a `DatasetDict`
    split or save_to_disk folder by the words of its name, any other folder by its whole name."""
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        parent, name = os.path.dirname(folder), os.path.basename(folder)
        splits = dict_splits(parent) if os.path.isfile(os.path.join(parent, DATASET_DICT)) else None
        if (splits is not None and name in splits) or os.path.isfile(os.path.join(folder, DATASET_STATE)):
            split = split_of_words(name)
        else:
            split = split_of_folder(name)
        if split or folder == top or parent == folder:
            return split
        folder = parent
