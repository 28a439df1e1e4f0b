"""The training gate: train only on data that a certificate vouches for or that lints clean.

The gate is pure Python over the core linter: it runs before torch is imported,
and every process of a multi-GPU launch reaches the same verdict on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.certificate import file_sha256, load_certificate, verify_certificate
from curate.config import load_config
from curate.engine import lint_paths


@dataclass
class GateResult:
    """The verdict, how it was reached (``"certificate"`` or ``"lint"``), and the findings behind a refusal."""

    passed: bool
    checked_by: str
    findings: list[str] = field(default_factory=list)


def check_gate(data_paths: list[str], certificate: str | None = None, splits: dict[str, str] | None = None) -> GateResult:
    """Pass when ``certificate`` matches the data, or, without one, when a fresh lint has no error.

    The lint uses the configuration ``curate lint`` finds; ``splits`` maps each
    path to its split (``train``, ``eval``) so it sees train and eval together
    and catches leaks between them. Raises CurateError on an unreadable
    certificate, config or data file.
    """
    if certificate:
        problems = (list(verify_certificate(certificate)) or _uncertified(certificate, data_paths)
                    or _other_config(certificate))
        return GateResult(not problems, "certificate", [f"{certificate}: {problem}" for problem in problems])
    result = lint_paths(list(data_paths), load_config(), splits)
    findings = [
        f"{d.path}:{d.line}: {d.code} {d.message}" if d.line else f"{d.path}: {d.code} {d.message}"
        for d in result.diagnostics
        if d.severity == "error"
    ]
    return GateResult(result.count_at_or_above("error") == 0, "lint", findings)


def _other_config(certificate: str) -> list[str]:
    """A certificate counts only under the project's lint configuration, not a narrowed one."""
    if load_certificate(certificate).get("config_sha256") == load_config().digest():
        return []
    return ["made under a different lint configuration (--select/--ignore/--fail-on flags or an edited "
            "config): certify again with `curate lint ... --certificate FILE` and the project's configuration"]


def _uncertified(certificate: str, data_paths: list[str]) -> list[str]:
    """The data files whose bytes the certificate does not list."""
    certified = {entry.get("sha256") for entry in load_certificate(certificate)["files"]}
    return [f"{path} is not covered by this certificate" for path in data_paths if file_sha256(path) not in certified]
