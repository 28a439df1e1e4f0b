"""The shape of a certificate: every field, its type, nothing else."""

from __future__ import annotations

import json

import jsonschema

from curate.diagnostics import SEVERITIES
from curate.split_names import SPLITS

_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_COUNT = {"type": "integer", "minimum": 0}
_STRICT = {"type": "object", "additionalProperties": False}

FILE = {
    **_STRICT,
    "required": ["path", "split", "format", "records", "size", "sha256"],
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "split": {"enum": list(SPLITS)},
        "format": {"type": "string"},
        "records": _COUNT,
        "size": _COUNT,
        "sha256": _HEX64,
    },
}

SCHEMA = {
    **_STRICT,
    "required": [
        "certificate_version",
        "tool",
        "tool_version",
        "config",
        "config_sha256",
        "fail_on",
        "rules",
        "files",
        "files_sha256",
        "summary",
    ],
    "properties": {
        "certificate_version": {"const": 2},
        "tool": {"const": "curate"},
        "tool_version": {"type": "string"},
        "config": {
            **_STRICT,
            "required": ["file", "settings"],
            "properties": {
                "file": {"type": ["string", "null"]},
                "settings": {"type": "object"},
            },
        },
        "config_sha256": _HEX64,
        "fail_on": {"enum": list(SEVERITIES)},
        "rules": {"type": "array", "items": {"type": "string"}},
        "files": {"type": "array", "items": FILE, "minItems": 1},
        "files_sha256": _HEX64,
        "summary": {
            **_STRICT,
            "required": ["records", "files", "by_code", "by_severity"],
            "properties": {
                "records": _COUNT,
                "files": _COUNT,
                "by_code": {"type": "object", "additionalProperties": _COUNT},
                "by_severity": {"type": "object", "additionalProperties": _COUNT},
            },
        },
        "signature": {
            **_STRICT,
            "required": ["algorithm", "value"],
            "properties": {
                "algorithm": {"const": "HMAC-SHA256"},
                "value": _HEX64,
            },
        },
    },
}


def validate(cert) -> str | None:
    """The first structural problem of a parsed certificate, as one short line; None when it has the right shape."""
    try:
        jsonschema.validate(cert, SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        message = json.dumps(f"at {where}: {exc.message}")[1:-1]  # control characters and odd code points escaped
        return message if len(message) <= 160 else message[:157] + "..."
    return None
