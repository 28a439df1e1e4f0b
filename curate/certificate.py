"""Certificates: a record of exactly which bytes passed which lint, optionally signed.

A certificate binds the tool version, the full effective lint configuration,
the rules run, ``fail_on``, every file (path relative to the certificate,
split, format, record count, size, SHA-256), a hash over the file list and
the summary. ``verify`` re-reads and re-lints the files under the certified
configuration, rebuilds the certificate and compares every field, so any
edit of the certificate or of a file fails it. A signature (HMAC-SHA256 over
the canonical serialization of everything else, key from ``CURATE_CERT_KEY``
or ``--key-file``) makes it a key for the training gate; an unsigned
certificate is only a record. See docs/certificates.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import cast

from curate import __version__
from curate.atomic import atomic_write_text
from curate.config import SCHEMA as CONFIG_SCHEMA
from curate.config import Config, load_config
from curate.errors import CurateError

VERSION = 2
KEY_ENV = "CURATE_CERT_KEY"
MIN_KEY_BYTES = 16
MAX_CERTIFICATE_BYTES = 16 << 20
ALGORITHM = "HMAC-SHA256"
SETTINGS = tuple(k for k in cast(dict, CONFIG_SCHEMA["properties"]) if k != "train")  # every lint setting


def file_sha256(path: str) -> str:
    """SHA-256 of a regular file's bytes (a FIFO or device is refused, never read)."""
    from curate.snapshot import open_regular

    h = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical(value) -> bytes:
    """The one serialization that hashes and signatures cover: sorted keys, no spaces, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def sha256_of(value) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def config_settings(config: Config) -> dict:
    """The full effective lint configuration as plain JSON (every setting, defaults included)."""
    settings = {key: getattr(config, key.replace("-", "_")) for key in SETTINGS}
    return json.loads(json.dumps(settings, default=str))


def config_from_settings(settings: dict, source: str) -> Config:
    """A Config from certified settings, validated as a configuration file would be."""
    return Config.from_table({k: v for k, v in settings.items() if v is not None}, source)


def signing_key(key_file: str | None = None) -> bytes | None:
    """The signing key: the bytes of ``key_file`` (trailing newline dropped), else ``$CURATE_CERT_KEY``, else None."""
    if key_file:
        try:
            with open(key_file, "rb") as f:
                key = f.read(1 << 16).rstrip(b"\r\n")
        except OSError as exc:
            raise CurateError(f"{key_file}: cannot read key file: {exc.strerror or exc}") from None
        where = key_file
    else:
        key, where = os.environ.get(KEY_ENV, "").encode("utf-8", "surrogateescape"), KEY_ENV
        if not key:
            return None
    if len(key) < MIN_KEY_BYTES:
        raise CurateError(f"{where}: the signing key must be at least {MIN_KEY_BYTES} bytes")
    return key


def sign(body: dict, key: bytes) -> str:
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    return hmac.new(key, canonical(unsigned), hashlib.sha256).hexdigest()


def signature_valid(cert: dict, key: bytes) -> bool:
    given = cert.get("signature", {}).get("value", "")
    return hmac.compare_digest(given, sign(cert, key))


def _relative(path: str, base: str) -> str:
    return os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")


def build_certificate(result, cert_path: str) -> dict:
    """The unsigned certificate body for a passing LintResult; file paths relative to ``cert_path``'s folder."""
    base = os.path.dirname(os.path.abspath(cert_path))
    config = result.config
    config_block = {
        "file": _relative(config.source, base) if config.source else None,
        "settings": config_settings(config),
    }
    files = [
        {
            "path": _relative(f.path, base),
            "split": f.split,
            "format": f.format,
            "records": f.records,
            "size": f.size,
            "sha256": f.sha256,
        }
        for f in result.files
    ]
    return {
        "certificate_version": VERSION,
        "tool": "curate",
        "tool_version": __version__,
        "config": config_block,
        "config_sha256": sha256_of(config_block),
        "fail_on": config.fail_on,
        "rules": list(result.codes),
        "files": files,
        "files_sha256": sha256_of(files),
        "summary": result.summary.to_dict(),
    }


def write_certificate(path: str, result, key: bytes | None = None) -> None:
    """Write the certificate, signed when a key is given; never over one of the certified files."""
    inputs = [f.path for f in result.files] + ([result.config.source] if result.config.source else [])
    for other in inputs:
        if os.path.exists(path) and os.path.exists(other) and os.path.samefile(path, other):
            raise CurateError(f"{path}: the certificate would overwrite the input file {other}")
    body = build_certificate(result, path)
    if key is not None:
        body["signature"] = {"algorithm": ALGORITHM, "value": sign(body, key)}
    atomic_write_text(path, render(body))


def render(body: dict) -> str:
    """The certificate file's text, exactly as curate writes it."""
    return json.dumps(body, indent=2) + "\n"


def load_certificate(path: str) -> dict:
    """The certificate's body, structurally valid; anything else is one CurateError line."""
    return _read_certificate(path)[0]


def _read_certificate(path: str) -> tuple[dict, bytes]:
    from curate.certificate_schema import validate
    from curate.snapshot import open_regular

    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_CERTIFICATE_BYTES + 1)
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CurateError(f"{path}: not a curate certificate (larger than {MAX_CERTIFICATE_BYTES >> 20} MiB)")
    try:
        cert = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, _Malformed) else "invalid JSON"
        raise CurateError(f"{path}: not a curate certificate ({reason})") from None
    problem = validate(cert)
    if problem:
        raise CurateError(f"{path}: not a valid curate certificate: {problem}")
    return cert, data


class _Malformed(ValueError):
    pass


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Malformed("duplicate key")
    return dict(pairs)


def _no_constant(name):
    raise _Malformed(f"{name} is not valid JSON")


def resolve(cert_path: str, entry_path: str) -> str:
    """A certified file's location: its path is relative to the certificate's folder."""
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(cert_path)), entry_path))


def certified_config(cert: dict, cert_path: str) -> tuple[Config | None, list[str]]:
    """The Config the certificate was made under, and problems with it (edited, invalid, file changed)."""
    block = cert["config"]
    source = resolve(cert_path, block["file"]) if block["file"] else cert_path
    try:
        config = config_from_settings(block["settings"], source)
    except CurateError as exc:
        return None, [f"config: the certified settings are not a valid configuration ({exc})"]
    config.source = source if block["file"] else None
    problems = []
    if canonical(config_settings(config)) != canonical(block["settings"]):
        problems.append("config: the certified settings are not in canonical form (edited)")
    if block["file"]:
        try:
            on_disk = config_settings(load_config(source))
        except CurateError:
            on_disk = None
        if on_disk is None or canonical(on_disk) != canonical(block["settings"]):
            problems.append(f"config: {block['file']} is missing or changed since certification")
    return config, problems


def verify_certificate(path: str, key: bytes | None = None) -> list[str]:
    """Problems found; empty when every field matches the files and the certified configuration.

    Re-reads and re-lints the certified files with the certified settings and
    splits, rebuilds the certificate and compares it field by field.
    Raises CurateError (one line) for a malformed certificate.
    """
    from curate.engine import lint_paths

    cert, data = _read_certificate(path)
    problems = signature_problems(cert, key)
    if data != render(cert).encode():
        problems.append("the certificate file is not byte for byte as curate wrote it (reformatted or edited)")
    if cert["tool_version"] != __version__:
        problems.append(
            f"tool_version: certified by curate {cert['tool_version']}, this is {__version__}: "
            "certify again with this version"
        )
    config, config_problems = certified_config(cert, path)
    problems += config_problems
    # relative to the working directory, as a user types them (configuration globs are matched against them)
    located = [(entry, os.path.relpath(resolve(path, entry["path"]))) for entry in cert["files"]]
    unreadable = _unreadable(located)
    if config is None or unreadable:
        return problems + unreadable
    splits = {p: e["split"] for e, p in located if e["split"] != "reference"}
    result = lint_paths(list(splits), config, splits, [p for e, p in located if e["split"] == "reference"])
    expected = build_certificate(result, path)
    return (
        problems
        + compare(cert, expected)
        + ([] if result.passed() else ["the certified files do not pass the lint under the certified configuration"])
    )


def signature_problems(cert: dict, key: bytes | None) -> list[str]:
    if "signature" not in cert:
        return []
    if key is None:
        return [f"signature: the certificate is signed; give the key ({KEY_ENV} or --key-file) to check it"]
    if not signature_valid(cert, key):
        return ["signature: does not match (the certificate was edited, or this is not the signing key)"]
    return []


def _unreadable(located: list[tuple[dict, str]]) -> list[str]:
    problems, seen = [], set()
    for entry, p in located:
        if p in seen:
            problems.append(f"{entry['path']}: listed twice")
        seen.add(p)
        if not os.path.exists(p):
            problems.append(f"{entry['path']}: missing")
        elif not os.path.isfile(p):
            problems.append(f"{entry['path']}: not a regular file")
    return problems


def compare(cert: dict, expected: dict) -> list[str]:
    """One problem per field whose certified value differs from the rebuilt one."""
    problems = []
    for key in sorted(set(cert) | set(expected)):
        if key in ("signature", "files"):
            continue
        if key not in expected:
            problems.append(f"{key}: unknown field")
        elif canonical(cert.get(key)) != canonical(expected[key]):
            problems.append(f"{key}: certified {_short(cert.get(key))}, found {_short(expected[key])}")
    return problems + _compare_files(cert["files"], expected["files"])


def _compare_files(certified: list[dict], found: list[dict]) -> list[str]:
    if len(certified) != len(found):
        return [f"files: {len(certified)} certified, {len(found)} found"]
    problems = []
    for entry, actual in zip(certified, found):
        name = entry["path"]
        if canonical(entry.get("sha256")) != canonical(actual["sha256"]):
            problems.append(f"{name}: changed since certification (SHA-256 differs)")
            continue
        for key in sorted(set(entry) | set(actual)):
            if canonical(entry.get(key)) != canonical(actual.get(key)):
                problems.append(f"{name}: {key} certified {_short(entry.get(key))}, found {_short(actual.get(key))}")
    return problems


def printable(text: str) -> str:
    """``text`` with control characters and unpaired surrogates escaped, safe to print on a terminal."""
    return "".join(c if c.isprintable() or c == " " else json.dumps(c)[1:-1] for c in text)


def _short(value) -> str:
    text = canonical(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."
