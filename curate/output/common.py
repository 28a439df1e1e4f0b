"""Helpers shared by reporters."""

from __future__ import annotations

import os


def relative_uri(path: str) -> str:
    """A POSIX path relative to the working directory (as code scanning and CI tools expect)."""
    rel = os.path.relpath(path) if os.path.isabs(path) else os.path.normpath(path)
    return rel.replace(os.sep, "/")
