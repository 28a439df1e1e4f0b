"""A progress bar on stderr for long runs on a terminal."""

from __future__ import annotations

import os
import sys

import click

MIN_BYTES = 20 << 20


def progress_for(enabled: bool | None):
    """A wrapper for the engine's chunk iterator, or None when no bar should show."""
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None

    def wrap(chunks, files):
        total = sum(os.path.getsize(f.path) for f in files)
        if enabled is None and total < MIN_BYTES:
            yield from chunks
            return
        with click.progressbar(length=total, label="linting", file=sys.stderr) as bar:
            for chunk in chunks:
                bar.update(sum(len(r.raw) + 1 for r in chunk))
                yield chunk

    return wrap
