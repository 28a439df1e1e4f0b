"""Errors that end a run with a clear message and exit status 2."""


class CurateError(Exception):
    """A usage, configuration or I/O problem: reported as one line, exit 2."""
