"""Every rule's fixture cases produce exactly their snapshot: findings, and the fixed files.

Each rule has `fixtures/rules/<CODE>/`: dataset files, and `cases.toml` with named cases
(`[case.NAME]`: `files` to lint, `args` for the CLI, `config` written as the run's
curate.toml, `expected` `path:line: CODE` findings that must be among the snapshot's).
A case's snapshot `snapshots/NAME.json` holds every diagnostic (code, name, severity,
message, line, pointer, related locations) and, for a fixable rule, what `curate fix`
writes. `pytest --update-snapshots` rewrites the snapshots; see docs/testing.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.registry import load_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same fallback the package uses
    import tomli as tomllib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "rules")
RULES = load_rules()
NOT_DATA = {"cases.toml", "snapshots"}


def _cases(code: str) -> dict:
    path = os.path.join(ROOT, code, "cases.toml")
    if not os.path.isfile(path):
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f).get("case", {})


def _params():
    for code in RULES:
        names = list(_cases(code)) or ["<missing>"]
        for name in names:
            yield pytest.param(code, name, id=f"{code}-{name}")


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


def _copy_fixture(code: str, dest) -> str:
    src = os.path.join(ROOT, code)
    shutil.copytree(src, dest, ignore=lambda folder, names: [n for n in names if folder == src and n in NOT_DATA])
    return str(dest)


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def _lint(code: str, case: dict, files: list[str]) -> dict:
    args = ["lint", *files, "--select", code, "--output-format", "json", "--no-progress", *case.get("args", [])]
    result = _invoke(args)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    return {"records": report["summary"]["records"], "diagnostics": report["diagnostics"]}


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
    written = {name: data.decode("utf-8").split("\n") for name, data in sorted(after.items())
               if before.get(name) != data}
    return {"output": result.output.splitlines(), "files": written}


def _run_case(code: str, case: dict, folder: str) -> dict:
    files = case.get("files") or sorted(n for n in os.listdir(folder) if n != "curate.toml")
    if "config" in case:
        with open(os.path.join(folder, "curate.toml"), "w", encoding="utf-8") as f:
            f.write(_toml(case["config"]) + "\n")
        case = {**case, "args": ["--config", "curate.toml", *case.get("args", [])]}
    snapshot = {"lint": _lint(code, case, files)}
    if RULES[code].fix:
        snapshot["fix"] = _fix(code, case, files, folder)
    return snapshot


def _check_expectations(case: dict, lint: dict) -> None:
    """The hand-written `expected` findings and `related` locations hold in the run."""
    found = sorted(f"{d['path']}:{d['line']}: {d['code']}" for d in lint["diagnostics"])
    missing = list(case.get("expected", []))
    for f in found:
        if f in missing:
            missing.remove(f)
    assert not missing, f"expected findings not produced: {missing}"
    for item in case.get("related", []):
        at = [d for d in lint["diagnostics"] if f"{d['path']}:{d['line']}" == item["at"]]
        assert at, f"no finding at {item['at']}"
        assert [f"{r['path']}:{r['line']}" for r in at[0]["related"]] == item["to"]


@pytest.mark.parametrize(("code", "name"), list(_params()))
def test_rule_case(code, name, tmp_path, monkeypatch, request):
    assert name != "<missing>", f"rule {code} has no fixtures/rules/{code}/cases.toml with a [case.NAME]"
    case = _cases(code)[name]
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.chdir(_copy_fixture(code, tmp_path / code))
    actual = _run_case(code, case, os.getcwd())
    _check_expectations(case, actual["lint"])
    if case.get("expected"):
        fired = {(d["path"], d["line"]) for d in actual["lint"]["diagnostics"]}
        assert actual["lint"]["records"] > len(fired), "the fixture needs records that must not fire"
    snap_path = os.path.join(ROOT, code, "snapshots", f"{name}.json")
    text = json.dumps(actual, indent=2, ensure_ascii=False) + "\n"
    if request.config.getoption("--update-snapshots"):
        os.makedirs(os.path.dirname(snap_path), exist_ok=True)
        with open(snap_path, "w", encoding="utf-8") as f:
            f.write(text)
    assert os.path.isfile(snap_path), f"no snapshot {snap_path}: run pytest --update-snapshots and review it"
    with open(snap_path, encoding="utf-8") as f:
        expected = json.load(f)
    assert actual == expected, f"{code}/{name} differs from its snapshot (pytest --update-snapshots to accept)"


def test_every_snapshot_has_a_case():
    """A renamed or deleted case leaves no stale snapshot behind."""
    stale = []
    for code in sorted(os.listdir(ROOT)):
        folder = os.path.join(ROOT, code, "snapshots")
        names = set(_cases(code))
        if os.path.isdir(folder):
            stale += [f"{code}/{n}" for n in os.listdir(folder) if n.removesuffix(".json") not in names]
    assert stale == []
