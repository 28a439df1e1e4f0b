"""The rejects file of `curate fix`: removed records are appended, never overwriting an earlier run's.

Entries are staged in an anonymous temporary file and appended to the rejects
file (then fsynced) just before each fixed file replaces its original, so a
record is in the rejects file before it leaves the dataset. When nothing is
removed, no rejects file is created and an existing one is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import IO, TYPE_CHECKING

from curate.atomic import before_replace
from curate.errors import CurateError

if TYPE_CHECKING:  # typing.Self is Python 3.11+
    from typing_extensions import Self


class RejectsFile:
    """Write removed-record entries (text lines); they reach ``path`` when an output is committed."""

    def __init__(self, path: str):
        self.path = path
        self.written = 0
        self.appended = _has_content(path)  # an earlier run's rejects: kept, and added to
        self._staged: IO[bytes] | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        self._stack.enter_context(before_replace(self.commit))
        return self

    def __exit__(self, exc_type, *_) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self._stack.close()
            if self._staged is not None:
                self._staged.close()

    def write(self, text: str) -> None:
        if self._staged is None:
            directory = os.path.dirname(os.path.realpath(self.path))
            try:
                os.makedirs(directory, exist_ok=True)
                self._staged = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed in __exit__); no name
            except OSError as exc:
                raise CurateError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        self._staged.write(text.encode("utf-8"))
        self.written += 1

    def commit(self, _target: str | None = None) -> None:
        """Append the staged entries to the rejects file and fsync it."""
        if self._staged is None or not self._staged.tell():
            return
        self._staged.seek(0)
        try:
            with open(self.path, "ab") as out:
                if out.tell() and not _ends_with_newline(self.path):
                    out.write(b"\n")
                shutil.copyfileobj(self._staged, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise CurateError(f"{self.path}: cannot write the removed records: {exc.strerror or exc}") from None
        self._staged.seek(0)
        self._staged.truncate()

    def note(self) -> str:
        """How the report should describe the rejects file."""
        return " (appended after the records of earlier runs)" if self.appended else ""


def _has_content(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
