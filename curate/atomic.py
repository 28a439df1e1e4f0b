"""Atomic file writes: a hidden temporary file in the target's directory, then os.replace.

Temporary files are named ``.NAME.curate-tmp-XXXXXXXX`` and hold an advisory
lock (``fcntl.flock``) while they are written, so a later run can tell the
leftovers of a killed run (unlocked, older than ``STALE_AFTER_S``) from a
concurrent writer's, and removes them. A symlinked target is written through:
the real file is replaced and the link kept.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import shutil
import tempfile
import time

from curate.errors import CurateError

TEMP_MARK = ".curate-tmp-"
STALE_AFTER_S = 60.0
_BEFORE_REPLACE: list = []
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS)


@contextlib.contextmanager
def before_replace(callback):
    """Call ``callback(real_path)`` before every atomic replace made inside the block (e.g. a stable-input check)."""
    _BEFORE_REPLACE.append(callback)
    try:
        yield callback
    finally:
        _BEFORE_REPLACE.remove(callback)


def temp_prefix(path: str) -> str:
    """Hidden name prefix of the temporary files that replace ``path``."""
    return f".{os.path.basename(path)}{TEMP_MARK}"


@contextlib.contextmanager
def atomic_writer(path: str, mode: str = "w"):
    """Open a temp file beside `path`; it replaces `path` only if the block completes."""
    path = os.path.realpath(path)  # through symlinks: the link stays, the file it names changes
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        remove_stale(os.path.join(directory, temp_prefix(path) + "*"))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=temp_prefix(path))
    except OSError as exc:
        raise CurateError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.chmod(tmp, _mode_for(path))
        text_args: dict = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        with os.fdopen(fd, mode, **text_args) as f:
            try:
                yield f
            except OSError as exc:
                if exc.errno not in _WRITE_ERRNOS:
                    raise
                raise CurateError(f"{path}: cannot write: {exc.strerror}") from None
            _finish(f, path)
            for callback in tuple(_BEFORE_REPLACE):
                callback(path)
            _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _finish(f, path: str) -> None:
    try:
        f.flush()
        os.fsync(f.fileno())
    except OSError as exc:  # a full disk often shows only here
        raise CurateError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _replace(tmp: str, path: str) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise CurateError(f"{path}: cannot replace: {exc.strerror or exc}") from None


def remove_stale(pattern: str) -> list[str]:
    """Remove files or folders matching ``pattern`` that no live run holds a lock on and that are not recent."""
    removed = []
    for candidate in glob.glob(pattern):  # the patterns' names start with ".", so they match hidden files
        if _is_stale(candidate):
            with contextlib.suppress(OSError):
                if os.path.isdir(candidate) and not os.path.islink(candidate):
                    shutil.rmtree(candidate)
                else:
                    os.unlink(candidate)
                removed.append(candidate)
    return removed


def _is_stale(path: str) -> bool:
    try:
        if time.time() - os.lstat(path).st_mtime < STALE_AFTER_S:
            return False
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False  # a live run holds it
    finally:
        os.close(fd)


def _mode_for(path: str) -> int:
    """The replaced file's permissions, or what a plain open() would give (mkstemp's 0600 is too tight)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str, text: str) -> None:
    with atomic_writer(path) as f:
        f.write(text)
