"""Baselines: known findings keyed by rule and record content, so CI fails only on new ones."""

from __future__ import annotations

import json
import os
from collections import Counter

from curate.atomic import atomic_write_text
from curate.diagnostics import Diagnostic
from curate.errors import CurateError
from curate.locks import open_regular

VERSION = 1


def write_baseline(path: str, diagnostics: list[Diagnostic]) -> None:
    body = {
        "version": VERSION,
        "findings": [
            {"code": d.code, "fingerprint": d.fingerprint, "path": d.path, "line": d.line, "message": d.message}
            for d in diagnostics
        ],
    }
    atomic_write_text(path, json.dumps(body, indent=1, ensure_ascii=False) + "\n")


def load_baseline(path: str) -> Counter:
    try:
        with os.fdopen(
            open_regular(path, "baseline"), encoding="utf-8"
        ) as f:  # a FIFO or device is refused, not waited on
            body = json.load(f)
        return Counter((x["code"], x["fingerprint"]) for x in body["findings"])
    except OSError as exc:
        raise CurateError(f"{path}: cannot read baseline: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise CurateError(f"{path}: not a curate baseline file") from None


def filter_new(diagnostics: list[Diagnostic], known: Counter) -> list[Diagnostic]:
    """Diagnostics not in the baseline; each baseline entry absorbs one matching finding."""
    known = Counter(known)
    out = []
    for d in diagnostics:
        key = (d.code, d.fingerprint)
        if known[key] > 0:
            known[key] -= 1
        else:
            out.append(d)
    return out
