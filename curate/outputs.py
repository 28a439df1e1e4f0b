"""Output paths checked before anything is written: never an input, never each other, always a regular file.

Files are compared by identity (device and inode, so symlinks, ``./f`` and
hard links all count as the same file), or by real path when they do not
exist yet.
"""

from __future__ import annotations

import os
import stat

from curate.errors import CurateError

STDIN = "-"


def _identity(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", st.st_dev, st.st_ino)


def unique_inputs(paths: list[str]) -> list[str]:
    """``paths`` without repeats of the same file (``f`` and ``./f``, a file and its folder), first spelling kept."""
    seen: set = set()
    out = []
    for p in paths:
        key = STDIN if p == STDIN else _identity(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def check_outputs(inputs: list[str], outputs: list[tuple[str, str | None]]) -> None:
    """Refuse, before anything is written, outputs that are an input, each other, not a regular file or not writable.

    ``outputs`` holds (what it is, e.g. ``"--certificate"``, path or None).
    """
    read = {_identity(p): p for p in inputs if p != STDIN}
    taken: dict = {}
    for label, path in outputs:
        if not path:
            continue
        _check_kind(label, path)
        key = _identity(path)
        if key in read:
            same = "" if read[key] == path else f" (the same file as {read[key]})"
            raise CurateError(
                f"{label} {path} is also an input{same}: writing it would destroy the data; choose another path"
            )
        if key in taken:
            other_label, other = taken[key]
            raise CurateError(f"{label} {path} and {other_label} {other} are the same file; choose different paths")
        taken[key] = (label, path)


def _check_kind(label: str, path: str) -> None:
    if os.path.isdir(path):
        raise CurateError(f"{label} {path} is a directory; give a file path")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise CurateError(f"{label} {path}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise CurateError(
            f"{label} {path} is not a regular file (a device, FIFO or socket); curate writes only regular files"
        )
    directory = os.path.dirname(os.path.realpath(path))
    if os.path.isdir(directory) and not os.access(directory, os.W_OK):
        raise CurateError(f"{label} {path}: cannot write into {directory}: permission denied")


def check_lint_outputs(
    paths: list[str], references, report: str | None, baseline: str | None, certificate: str | None
) -> None:
    """`curate lint`: the report, baseline and certificate are none of the data files nor each other."""
    from curate.discovery import expand_paths

    if certificate and STDIN in paths:
        raise CurateError("--certificate needs files: data read from standard input cannot be verified later")
    inputs = [p for p in paths if p == STDIN] + expand_paths([p for p in list(paths) + list(references) if p != STDIN])
    check_outputs(inputs, [("--output", report), ("--write-baseline", baseline), ("--certificate", certificate)])


def guard_fix(paths: list[str], output: str | None, rejects: str | None, in_place: bool, references=()):
    """`curate fix`: check its outputs, then lock the inputs and watch them (a context manager)."""
    from curate.discovery import expand_paths
    from curate.fixer import default_rejects
    from curate.locks import StableInputs

    files = unique_inputs(expand_paths(paths))
    rejects = rejects or default_rejects(output or files[0])
    check_outputs(files + expand_paths(list(references)), [("--output", output), ("rejects file", rejects)])
    return StableInputs(files, exclusive=in_place)
