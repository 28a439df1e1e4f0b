"""Inputs that must not change under a run: an advisory lock, and a fingerprint checked before any write.

``curate fix --in-place`` takes an exclusive ``fcntl.flock`` on each input
file (``--output`` a shared one): a second run on the same file fails at once
with a clear error rather than wait or lose the first run's work. Each input's
size, mtime, ctime, inode and SHA-256 are recorded before the lint pass and
compared before any file is replaced; if anything changed, nothing more is
written. Files with several hard links are refused in place: an atomic
rewrite would split them (see docs/safe-io.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from curate.errors import CurateError

if TYPE_CHECKING:  # typing.Self is Python 3.11+
    from typing_extensions import Self


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a file's content without reading it, plus its SHA-256."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    sha256: str = ""

    @classmethod
    def of_stat(cls, st: os.stat_result, sha256: str = "") -> Fingerprint:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, sha256)

    def describe_change(self, now: Fingerprint) -> str:
        if (self.dev, self.ino) != (now.dev, now.ino):
            return "it was replaced by another file"
        if self.size != now.size:
            return f"its size went from {self.size} to {now.size} bytes"
        return "its content changed"


def sha256_of(fd: int) -> str:
    """SHA-256 of an open file's bytes, read from its start with pread (the file offset is left alone)."""
    h, offset = hashlib.sha256(), 0
    while block := os.pread(fd, 1 << 20, offset):
        h.update(block)
        offset += len(block)
    return h.hexdigest()


def fingerprint(path: str, with_hash: bool = True) -> Fingerprint:
    """The file's fingerprint now (regular files only)."""
    fd = open_regular(path)
    try:
        return Fingerprint.of_stat(os.fstat(fd), sha256_of(fd) if with_hash else "")
    finally:
        os.close(fd)


def open_regular(path: str, what: str = "") -> int:
    """A read-only descriptor of a regular file; devices, FIFOs and folders are refused without blocking.

    ``what`` names the file in the error (``config`` gives ``PATH: cannot read config: ...``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise CurateError(f"{path}: cannot read{' ' + what if what else ''}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise CurateError(f"{path}: {_kind(mode)}, not a regular file (curate reads regular files, or `-` for stdin)")
    return fd


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"


class StableInputs:
    """Lock input files for a run and refuse to replace anything once one of them changed."""

    def __init__(self, paths: list[str], exclusive: bool):
        self.paths, self.exclusive = list(paths), exclusive
        self.held: dict[str, tuple[int, Fingerprint]] = {}  # real path -> (locked fd, fingerprint)
        self.done: set[str] = set()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        from curate.atomic import before_replace  # here: it imports shutil and tempfile, which a lint needs not

        _allow_open_files(len(self.paths) + 64)
        try:
            for path in self.paths:
                self._hold(path)
            self._stack.enter_context(before_replace(self.before_write))
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self._release()

    def _release(self) -> None:
        for fd, _ in self.held.values():
            os.close(fd)
        self.held.clear()

    def _hold(self, path: str) -> None:
        for _ in range(3):  # the file may be replaced between open and lock: lock what the path names now
            fd = open_regular(path)
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise CurateError(
                    f"{path} is being rewritten by another curate run; try again when it has finished"
                ) from None
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == _inode(path):
                break
            os.close(fd)
        else:
            raise CurateError(f"{path} keeps being replaced while curate opens it")
        if self.exclusive and st.st_nlink > 1:
            os.close(fd)
            raise CurateError(
                f"{path} has {st.st_nlink} hard links: rewriting it in place would split them "
                f"(the other names would keep the old data); fix a copy, or write with --output"
            )
        self.held[os.path.realpath(path)] = (fd, Fingerprint.of_stat(st, sha256_of(fd)))

    def before_write(self, target: str) -> None:
        """Before ``target`` is replaced: every input not yet rewritten is as it was read (``target`` byte for byte)."""
        for real, (_fd, then) in self.held.items():
            if real in self.done:
                continue
            now = fingerprint(real, with_hash=real == target)
            if replace(now, sha256="") != replace(then, sha256="") or (real == target and now.sha256 != then.sha256):
                raise CurateError(
                    f"{real} changed while curate was working on it ({then.describe_change(now)}); "
                    f"nothing more was written: run again"
                )
        if target in self.held:
            self.done.add(target)

    def check_unchanged(self) -> None:
        """Raise if any held input changed since it was locked (size, times, inode or bytes)."""
        for real, (_fd, then) in self.held.items():
            now = fingerprint(real)
            if now != then:
                raise CurateError(
                    f"{real} changed while curate was reading it ({then.describe_change(now)}); "
                    f"nothing was written: run again"
                )


def _allow_open_files(n: int) -> None:
    """Raise the soft limit on open files to ``n`` (up to the hard limit): one locked descriptor per input."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        target = n if hard == resource.RLIM_INFINITY else min(n, hard)
        if n > target:
            raise CurateError(
                f"{n - 64} input files are more than this system lets one process lock "
                f"(open files limit {hard}); fix fewer files per run"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _inode(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
