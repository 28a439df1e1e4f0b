"""Rule fixture cases: reading `fixtures/rules/<CODE>/cases.toml` and running a case in a copy of its folder."""

from __future__ import annotations

import json
import os
import shutil
import sys

from click.testing import CliRunner

from curate.cli import cli
from curate.registry import load_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same fallback the package uses
    import tomli as tomllib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "rules"))
RULES = load_rules()
NOT_DATA = {"cases.toml", "snapshots"}
CASE_KEYS = {"files", "args", "config", "expected", "related"}


def cases(code: str) -> dict:
    path = os.path.join(ROOT, code, "cases.toml")
    if not os.path.isfile(path):
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f).get("case", {})


def case_names() -> list[tuple[str, str]]:
    """(code, case name) for every rule; a rule without cases yields (code, "<missing>")."""
    return [(code, name) for code in RULES for name in (list(cases(code)) or ["<missing>"])]


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _toml(table: dict, prefix: tuple = ()) -> str:
    """A curate.toml from a case's `config` table (scalars, arrays and nested tables)."""
    scalars = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    out = ([f"[{'.'.join(json.dumps(p) for p in prefix)}]"] if prefix and scalars else []) + scalars
    for k, v in table.items():
        if isinstance(v, dict):
            out.append(_toml(v, (*prefix, k)))
    return "\n".join(out)


def copy_fixture(code: str, dest) -> str:
    src = os.path.join(ROOT, code)
    shutil.copytree(src, dest, ignore=lambda folder, names: [n for n in names if folder == src and n in NOT_DATA])
    return str(dest)


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def lint(code: str, case: dict, files: list[str], fmt: str = "json"):
    """`curate lint` of the case's files with only `code` selected; the report parsed when `fmt` is json."""
    args = ["lint", *files, "--select", code, "--output-format", fmt, "--no-progress", *case.get("args", [])]
    result = _invoke(args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output) if fmt == "json" else result.output


def _read_tree(folder: str) -> dict[str, bytes]:
    tree = {}
    for base, _, names in os.walk(folder):
        for n in names:
            path = os.path.join(base, n)
            with open(path, "rb") as f:
                tree[os.path.relpath(path, folder).replace(os.sep, "/")] = f.read()
    return tree


def _fix(code: str, case: dict, files: list[str], folder: str) -> dict:
    """What `curate fix --in-place` prints and writes (changed or new files, as lines)."""
    before = _read_tree(folder)
    unsafe = ["--unsafe"] if RULES[code].unsafe_fix else []
    result = _invoke(["fix", *files, "--select", code, "--in-place", *unsafe, *case.get("args", [])])
    assert result.exit_code == 0, result.output
    after = _read_tree(folder)
    written = {
        name: data.decode("utf-8").split("\n") for name, data in sorted(after.items()) if before.get(name) != data
    }
    return {"output": result.output.splitlines(), "files": written}


def prepare(case: dict, folder: str) -> tuple[list[str], dict]:
    """The case's files, and the case with its `config` written as curate.toml and passed by `--config`."""
    files = case.get("files") or sorted(n for n in os.listdir(folder) if n != "curate.toml")
    if "config" in case:
        with open(os.path.join(folder, "curate.toml"), "w", encoding="utf-8") as f:
            f.write(_toml(case["config"]) + "\n")
        case = {**case, "args": ["--config", "curate.toml", *case.get("args", [])]}
    return files, case


def run_case(code: str, case: dict, folder: str) -> dict:
    """The snapshot of a case: every diagnostic, and for a fixable rule what `curate fix` prints and writes."""
    files, case = prepare(case, folder)
    report = lint(code, case, files)
    snapshot = {"lint": {"records": report["summary"]["records"], "diagnostics": report["diagnostics"]}}
    if RULES[code].fix:
        snapshot["fix"] = _fix(code, case, files, folder)
    return snapshot
