"""The training gate: train only on bytes that a signed certificate vouches for or that lint clean.

The gate snapshots the data files (curate.snapshot), so the bytes it hashes and
lints are the bytes the trainer reads. Three ways through, named in the report:

- ``certificate-signed``: the certificate's signature verifies with the user's
  key, it was made under this configuration, and every certified file matches;
- ``certificate+lint``: an unsigned certificate (or no key to check one) is a
  record: its hashes, splits and configuration are checked and the data is linted again;
- ``lint``: no certificate, a fresh lint with no error.

It is pure Python over the core linter: it runs before torch is imported, and
every process of a multi-GPU launch reaches the same verdict on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from curate import __version__
from curate.certificate import (
    canonical,
    config_settings,
    file_sha256,
    load_certificate,
    resolve,
    signature_valid,
    signing_key,
)
from curate.config import Config, find_config, load_config
from curate.engine import lint_paths
from curate.excludes import repository_root
from curate.snapshot import Snapshot

SAFETY_FAMILIES = ("F", "L", "S")
USABLE_AS = {"train": ("train", "unsplit"), "eval": ("eval",)}
OPTION = {"train": "--data", "eval": "--eval"}


@dataclass
class GateResult:
    """The verdict, how it was reached, the findings behind a refusal and notes for the user."""

    passed: bool
    checked_by: str
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class GateConfig:
    """The lint configuration the gate uses, where it came from, and the safety rules it turns off."""

    config: Config
    file: str | None
    sha256: str | None
    disabled: list[str]
    ignored: str | None = None

    def describe(self, passed_by: str | None = None) -> list[str]:
        """Lines for stderr before training (or before a refusal, with ``passed_by`` None)."""
        where = f"{self.file} (sha256 {self.sha256})" if self.file else "built-in defaults (no configuration file)"
        lines = [f"gate: {f'passed ({passed_by}); ' if passed_by else ''}lint configuration: {where}"]
        if self.ignored:
            lines.append(
                f"gate: ignoring {self.ignored}: it is outside this project (above the .git root or the "
                "working directory); pass --config to use it"
            )
        if self.disabled:
            lines.append(
                f"warning: the lint configuration turns off safety rules for this data: {', '.join(self.disabled)}"
            )
        return lines


def project_root(start: str = ".") -> str:
    """The nearest folder from ``start`` upwards holding ``.git``; without one, ``start`` itself."""
    here = os.path.abspath(start)
    return repository_root(here) or here


def gate_config(config_path: str | None, data_paths: list[str]) -> GateConfig:
    """The configuration named by ``--config`` when it is a curate.toml or pyproject.toml, else the project's.

    The project's configuration is searched from the working directory up to
    the project root (see ``project_root``), never above it.
    """
    ignored = None
    path: str | None = None
    if config_path and os.path.basename(config_path) in ("curate.toml", "pyproject.toml"):
        path = config_path
    else:
        path, root = find_config(), project_root()
        if path and os.path.commonpath([os.path.abspath(path), root]) != root:
            path, ignored = None, path
    config = load_config(path) if path else Config()
    sha = file_sha256(path) if path else None
    return GateConfig(config, path, sha, disabled_safety_rules(config, data_paths), ignored)


def disabled_safety_rules(config: Config, paths: list[str]) -> list[str]:
    """Format, leak and secret rules (F, L, S) not run at error severity on some data file."""
    from curate.registry import load_rules

    selected = set(config.selected())
    out = []
    for code, rule in load_rules().items():
        if not code.startswith(SAFETY_FAMILIES):
            continue
        ignored = any(code in config.ignored_in(p) for p in paths)
        demoted = rule.severity == "error" and config.severity.get(code, "error") != "error"
        if code not in selected or ignored or demoted:
            out.append(code)
    return out


class Gate:
    """One gate check: the snapshot of the data, the configuration used and the verdict. A context manager."""

    def __init__(
        self,
        data: str | list[str],
        eval_path: str | None,
        config_path: str | None = None,
        certificate: str | None = None,
        key_file: str | None = None,
    ):
        """``data``: one training file or several; all are snapshotted, linted together and certified one by one."""
        paths = [data] if isinstance(data, str) else list(data)
        pairs = [(p, "train") for p in paths] + ([(eval_path, "eval")] if eval_path else [])
        self.certificate = certificate
        self.setup = gate_config(config_path, [p for p, _ in pairs])
        key = signing_key(key_file) if certificate else None
        self.snapshot = Snapshot(pairs, self.setup.config)
        try:
            self.verdict = check_gate(self.snapshot, self.setup.config, certificate, key)
        except BaseException:
            self.snapshot.close()
            raise

    def report(self) -> dict:
        """The gate's part of train_report.json."""
        return {
            "checked_by": self.verdict.checked_by,
            "certificate": self.certificate,
            "config": {"file": self.setup.file, "sha256": self.setup.sha256},
            "disabled_safety_rules": self.setup.disabled,
        }

    def close(self) -> None:
        self.snapshot.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_gate(
    snapshot: Snapshot, config: Config, certificate: str | None = None, key: bytes | None = None
) -> GateResult:
    """The verdict on the snapshotted data. Raises CurateError on a malformed certificate or unreadable file."""
    if certificate:
        return _with_certificate(snapshot, config, certificate, key)
    passed, findings = _lint(snapshot, config)
    return GateResult(passed, "lint", findings)


def _lint(snapshot: Snapshot, config: Config, references: tuple[str, ...] = ()) -> tuple[bool, list[str]]:
    """Lint the snapshot (train and eval together, so leaks show) under the user's file names."""
    splits = {path: f.split for path, f in snapshot.files.items()}
    result = lint_paths(list(splits), config, splits, references, sources=snapshot.sources())
    findings = [
        f"{d.path}:{d.line}: {d.code} {d.message}" if d.line else f"{d.path}: {d.code} {d.message}"
        for d in result.diagnostics
        if d.severity == "error"
    ]
    return result.count_at_or_above("error") == 0, findings


def _with_certificate(snapshot: Snapshot, config: Config, certificate: str, key: bytes | None) -> GateResult:
    cert = load_certificate(certificate)
    problems, notes = [], []
    if cert["tool_version"] != __version__:
        problems.append(f"made by curate {cert['tool_version']}, this is {__version__}: certify again")
    if canonical(cert["config"]["settings"]) != canonical(config_settings(config)):
        problems.append(
            "made under a different lint configuration (--select/--ignore/--fail-on flags or an edited "
            "config): certify again with `curate lint ... --certificate FILE` and the project's configuration"
        )
    signed = "signature" in cert
    if signed and key is None:
        notes.append(
            "the certificate is signed but no key was given ($CURATE_CERT_KEY or --key-file): linting the data again"
        )
    elif key is not None and signed and not signature_valid(cert, key):
        problems.append("the signature does not match (an edited certificate, or not the signing key)")
    problems += _coverage(cert, certificate, snapshot)
    if not problems and signed and key is not None:
        problems = _stale(cert["files"], certificate)
        if not problems:
            return GateResult(True, "certificate-signed", [], notes)
    references = [e for e in cert["files"] if e["split"] == "reference"]
    problems = problems or _stale(references, certificate)  # the lint checks leaks into them again
    if problems:
        return GateResult(False, "certificate", [f"{certificate}: {p}" for p in problems], notes)
    passed, findings = _lint(snapshot, config, tuple(resolve(certificate, e["path"]) for e in references))
    return GateResult(passed, "certificate+lint", findings, notes)


def _coverage(cert: dict, certificate: str, snapshot: Snapshot) -> list[str]:
    """Each snapshotted file must be certified, by content, under a split it may be used as."""
    problems = []
    for f in snapshot.files.values():
        matches = [e for e in cert["files"] if e["sha256"] == f.sha256]
        if not matches:
            named = any(_same_file(resolve(certificate, e["path"]), f.path) for e in cert["files"])
            problems.append(
                f"{f.path}: changed since certification (SHA-256 differs)"
                if named
                else f"{f.path} is not covered by this certificate"
            )
        elif not any(e["split"] in USABLE_AS[f.split] for e in matches):
            labels = ", ".join(sorted({e["split"] for e in matches}))
            problems.append(
                f"{f.path} is certified as {labels}, not {' or '.join(USABLE_AS[f.split])}: "
                f"it cannot be used as {OPTION[f.split]}"
            )
    return problems


def _stale(entries: list[dict], certificate: str) -> list[str]:
    """Certified files that are missing or whose bytes changed."""
    problems = []
    for e in entries:
        p = resolve(certificate, e["path"])
        if not os.path.isfile(p):
            problems.append(f"{e['path']}: missing")
        elif file_sha256(p) != e["sha256"]:
            problems.append(f"{e['path']}: changed since certification (SHA-256 differs)")
    return problems


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
