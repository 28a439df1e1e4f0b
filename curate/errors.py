"""Errors that end a run with a clear message and exit status 2."""

import errno
import functools
import os
import sys

import click

_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


class CurateError(Exception):
    """A usage, configuration or I/O problem: reported as one line, exit 2."""


def handle_errors(fn):
    """Turn CurateError, I/O errors and a closed stdout into one line on stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            try:
                result = fn(*args, **kwargs)
            except SystemExit:
                sys.stdout.flush()  # a closed or full stdout fails here, inside the handler
                raise
            sys.stdout.flush()
            return result
        except CurateError as exc:
            _fail(str(exc))
        except BrokenPipeError:
            _silence_stdout()
            _fail("standard output was closed before the report was written")
        except OSError as exc:
            if exc.filename is None and exc.errno in _WRITE_ERRNOS:  # file writes name their file: this is stdout
                _silence_stdout()
                _fail(f"cannot write to standard output: {exc.strerror or exc}")
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}")
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _fail(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
