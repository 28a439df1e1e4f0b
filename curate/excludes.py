"""Exclude globs (config and `--exclude`) and `.gitignore` files, as discovery applies them.

Globs follow ruff: a pattern without a slash (`node_modules`, `*.bak.jsonl`)
matches a file or folder name anywhere; a pattern with one (`data/raw`,
`legacy/*.jsonl`) matches paths relative to the directory of the config file
that declares it (the working directory for `--exclude`). `exclude` replaces
the default list, `extend-exclude` and `--exclude` add to it. `.gitignore`
files (and `.git/info/exclude`) apply with git's rules, the innermost file
deciding, from the repository root down (or from the walked folder when it is
in no repository).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

DEFAULT_EXCLUDE = ("node_modules", "__pycache__", "venv", "site-packages", "__pypackages__")
_GLOB_CHARS = re.compile(r"([\[\]*?!#\\])")


def _spec(lines) -> pathspec.GitIgnoreSpec:
    import pathspec  # only when a directory is walked: slow to import

    return pathspec.GitIgnoreSpec.from_lines(list(lines))


class Excludes:
    """Name patterns (matched anywhere) and anchored patterns (matched on the absolute path)."""

    def __init__(self, patterns: list[tuple[str, str]]):
        names, anchored = [], []
        for pattern, base in patterns:
            if "/" in pattern.strip("/"):
                absolute = os.path.join(_GLOB_CHARS.sub(r"\\\1", os.path.abspath(base)), pattern)
                anchored.append("/" + os.path.normpath(absolute).lstrip("/"))
            else:
                names.append(pattern)
        self.names, self.anchored = _spec(names), _spec(anchored)

    @classmethod
    def from_config(cls, config) -> Excludes:
        """The default list, or the config's `exclude`, plus `extend-exclude` (relative to the config file)."""
        if config is None:
            return cls([(p, os.getcwd()) for p in DEFAULT_EXCLUDE])
        base = os.path.dirname(os.path.abspath(config.source)) if config.source else os.getcwd()
        exclude = DEFAULT_EXCLUDE if config.exclude is None else config.exclude
        return cls([(p, base) for p in [*exclude, *config.extend_exclude]])

    def excluded(self, path: str, is_dir: bool) -> bool:
        slash = "/" if is_dir else ""
        absolute = os.path.abspath(path).lstrip("/")
        return self.names.match_file(os.path.basename(path) + slash) or self.anchored.match_file(absolute + slash)


class GitIgnores:
    """The `.gitignore` files that apply inside one walked folder."""

    def __init__(self, top: str):
        self.lines: dict[str, list[str]] = {}
        self.specs: dict[str, pathspec.GitIgnoreSpec] = {}
        repo = repository_root(top)
        if repo is not None:
            self._load(repo, os.path.join(repo, ".git", "info", "exclude"))
            folder = repo
            for part in os.path.relpath(top, repo).split(os.sep):
                if part != ".":
                    self._load(folder, os.path.join(folder, ".gitignore"))
                    folder = os.path.join(folder, part)
            if self.ignored(top, True):  # a folder given by name is walked, as ruff and ripgrep do: only
                self.lines, self.specs = {}, {}  # the .gitignore files inside it then apply

    def enter(self, folder: str) -> None:
        """Read `folder`'s own .gitignore (called for each folder walked, parents first)."""
        self._load(os.path.abspath(folder), os.path.join(folder, ".gitignore"))

    def _load(self, folder: str, path: str) -> None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return
        self.lines[folder] = self.lines.get(folder, []) + lines  # later lines win, as in git
        self.specs[folder] = _spec(self.lines[folder])

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Git's answer: the innermost .gitignore with a matching pattern decides."""
        path = os.path.abspath(path)
        folder = os.path.dirname(path)
        while True:
            spec = self.specs.get(folder)
            if spec is not None:
                rel = os.path.relpath(path, folder).replace(os.sep, "/") + ("/" if is_dir else "")
                result = spec.check_file(rel)
                if result.include is not None:
                    return bool(result.include)
            parent = os.path.dirname(folder)
            if parent == folder:
                return False
            folder = parent


def repository_root(folder: str) -> str | None:
    """The nearest folder at or above `folder` that holds `.git`."""
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
