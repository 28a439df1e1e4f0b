"""Private snapshots: read each data file once, so the gate and the trainer see the same bytes.

The training gate copies every data file into a private folder (mode 0700)
while hashing it, lints the copy, and the trainer reads its examples from the
same copy, through the lint's own reader and parser. Replacing or editing the
user's file after the gate passed changes nothing that is trained on.
Only regular files are accepted: a FIFO or a device can give different bytes
to each reader.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from curate.errors import CurateError
from curate.locks import open_regular
from curate.parse import parse
from curate.reader import FileInfo, read_file
from curate.records import Record

BLOCK = 1 << 20


@dataclass(frozen=True)
class SnapshotFile:
    """One user file as snapshotted: its name as given, the private copy and what identifies it."""

    path: str
    split: str
    source: str
    sha256: str
    size: int
    device: int
    inode: int


class Snapshot:
    """Private copies of the data files, keyed by the path the user gave. Use as a context manager."""

    def __init__(self, pairs: list[tuple[str, str]], config=None):
        """Copy every ``(path, split)``; refuse non-regular files and one file given twice.

        ``config`` is the lint's Config, whose record ``format`` the readers of the snapshot use.
        """
        self.config = config
        self.files: dict[str, SnapshotFile] = {}
        try:
            self.folder = tempfile.mkdtemp(prefix="curate-snapshot-")
        except OSError as exc:
            raise CurateError(f"cannot make a private snapshot folder: {exc.strerror or exc} (set TMPDIR)") from None
        try:
            copies: list[SnapshotFile] = []
            for index, (path, split) in enumerate(pairs):
                copies.append(self._copy(path, split, index, copies))
            self.files = {f.path: f for f in copies}
        except OSError as exc:
            self.close()
            raise CurateError(
                f"cannot snapshot the data in {self.folder}: {exc.strerror or exc} "
                "(set TMPDIR to a folder with room for a copy of the data)"
            ) from None
        except BaseException:
            self.close()
            raise

    def _copy(self, path: str, split: str, index: int, earlier: list[SnapshotFile]) -> SnapshotFile:
        """Copy and hash one file, read once from one descriptor; refused if it is one of ``earlier``."""
        # the copy keeps the file's name, so suffix-based format detection sees what the user's file shows
        target = os.path.join(self.folder, str(index))
        os.mkdir(target, 0o700)
        target = os.path.join(target, os.path.basename(path) or "data")
        fd = open_regular(path)
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb") as src:
            info = os.fstat(src.fileno())
            _refuse_same_file(earlier, path, split, info)
            with open(target, "xb") as dst:
                self._stream(src, dst, digest)
                size = dst.tell()
        return SnapshotFile(path, split, target, digest.hexdigest(), size, info.st_dev, info.st_ino)

    @staticmethod
    def _stream(src, dst, digest) -> None:
        for block in iter(lambda: src.read(BLOCK), b""):
            digest.update(block)
            dst.write(block)

    def sources(self) -> dict[str, str]:
        """User path -> private copy, for ``lint_paths(sources=...)``."""
        return {path: f.source for path, f in self.files.items()}

    def records(self, path: str) -> Iterator[Record]:
        """Parsed records of one snapshotted file, read exactly as the lint reads them (same reader,
        format detection, forced ``format`` and parser); records carry the user's path for messages."""
        f = self.files[path]
        info = FileInfo(f.path, f.split, "", source=f.source)
        return (parse(record) for record in read_file(info, getattr(self.config, "format", None), 0))

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _refuse_same_file(earlier: list[SnapshotFile], path: str, split: str, info: os.stat_result) -> None:
    """One file given twice (same path, ``./`` spelling, symlink or hardlink: same device and inode): refused."""
    for first in earlier:
        if (first.device, first.inode) == (info.st_dev, info.st_ino):
            raise CurateError(
                f"{first.path} ({first.split}) and {path} ({split}) are the same file: "
                + (
                    "give each data file once"
                    if first.split == split
                    else "train and eval data must be different files"
                )
            )
