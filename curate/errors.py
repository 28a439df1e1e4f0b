"""Errors that end a run with a clear message and exit status 2."""

import functools
import sys

import click


class CurateError(Exception):
    """A usage, configuration or I/O problem: reported as one line, exit 2."""


def handle_errors(fn):
    """Turn CurateError into one line on stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CurateError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper
