"""Certificates: a signed-off record of exactly which bytes passed which lint."""

from __future__ import annotations

import hashlib
import json
import os

from curate import __version__
from curate.atomic import atomic_write_text
from curate.errors import CurateError

VERSION = 1


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_certificate(result) -> dict:
    """The certificate body for a passing LintResult."""
    return {
        "certificate_version": VERSION,
        "tool": "curate",
        "tool_version": __version__,
        "config_sha256": result.config.digest(),
        "fail_on": result.config.fail_on,
        "rules": result.codes,
        "files": [
            {"path": f.path, "split": f.split, "format": f.format, "records": f.records, "sha256": f.sha256}
            for f in result.files
        ],
        "summary": result.summary.to_dict(),
    }


def write_certificate(path: str, result) -> None:
    atomic_write_text(path, json.dumps(build_certificate(result), indent=2) + "\n")


def load_certificate(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            cert = json.load(f)
    except OSError as exc:
        raise CurateError(f"{path}: cannot read certificate: {exc.strerror}") from None
    except ValueError:
        raise CurateError(f"{path}: not a curate certificate (invalid JSON)") from None
    if not isinstance(cert, dict) or cert.get("tool") != "curate" or not isinstance(cert.get("files"), list):
        raise CurateError(f"{path}: not a curate certificate")
    return cert


def verify_certificate(path: str) -> list[str]:
    """Problems found: each certified file that is missing or whose SHA-256 changed. Empty when valid.

    Relative file paths are resolved against the working directory first, then the certificate's folder.
    """
    cert = load_certificate(path)
    problems = []
    base = os.path.dirname(os.path.abspath(path))
    for entry in cert["files"]:
        p = entry["path"]
        candidates = [p] if os.path.isabs(p) else [p, os.path.join(base, p)]
        found = next((c for c in candidates if os.path.isfile(c)), None)
        if found is None:
            problems.append(f"{p}: missing")
        elif file_sha256(found) != entry["sha256"]:
            problems.append(f"{p}: changed since certification (SHA-256 differs)")
    return problems

