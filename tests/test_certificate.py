"""Certificates: every field is checked, paths are relative to the certificate, bad ones are one error line."""

import copy
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from curate.certificate import canonical, render, sha256_of
from curate.cli import cli

TRAIN = [
    {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    for q, a in [
        ("Which gas do plants take in for photosynthesis?", "Plants take in carbon dioxide and release oxygen."),
        ("What does a thermometer measure?", "A thermometer measures temperature."),
        (
            "Name a sorting algorithm with linear memory use.",
            "Merge sort needs extra memory proportional to the input.",
        ),
    ]
]
EVAL = [
    {
        "messages": [
            {"role": "user", "content": "How many legs does a spider have?"},
            {"role": "assistant", "content": "A spider has eight legs."},
        ]
    }
]
CONFIG = '[per-file-ignores]\n"*.jsonl" = ["Q001"]\n[rules.D002]\nthreshold = 0.8\n'
KEY = "a-signing-key-of-32-bytes-length"


def write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"CURATE_CERT_KEY": None, **(env or {})})


def make_project(root):
    """A project: config at the root, data in data/, the certificate in certs/, linted from the root."""
    (root / "curate.toml").write_text(CONFIG)
    write(root / "data" / "train.jsonl", TRAIN)
    write(root / "data" / "eval.jsonl", EVAL)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = run("lint", "data/train.jsonl", "data/eval.jsonl", "--certificate", "certs/cert.json")
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return root / "certs" / "cert.json"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATE_CERT_KEY", raising=False)
    return make_project(tmp_path)


def edit(cert_path, change):
    body = json.loads(cert_path.read_text())
    change(body)
    cert_path.write_text(render(body))


def test_paths_are_relative_to_the_certificate_and_verify_works_from_any_directory(project, tmp_path, monkeypatch):
    body = json.loads(project.read_text())
    assert [f["path"] for f in body["files"]] == ["../data/train.jsonl", "../data/eval.jsonl"]
    assert body["config"]["file"] == "../curate.toml" and body["config"]["settings"]["rules"] == {
        "D002": {"threshold": 0.8}
    }
    for where in (tmp_path, tmp_path / "data", "/"):
        monkeypatch.chdir(where)
        result = run("verify", project)
        assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "certs")
    assert run("verify", "cert.json").exit_code == 0


def test_a_moved_project_still_verifies(project, tmp_path):
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    os.rename(tmp_path, moved)
    try:
        assert run("verify", moved / "certs" / "cert.json").exit_code == 0
    finally:
        os.rename(moved, tmp_path)


def test_one_changed_byte_in_a_file_fails(project, tmp_path):
    data = tmp_path / "data" / "eval.jsonl"
    data.write_bytes(data.read_bytes().replace(b"eight", b"Eight"))
    result = run("verify", project)
    assert result.exit_code == 1
    assert "../data/eval.jsonl: changed since certification (SHA-256 differs)" in result.stderr


def test_an_edited_config_file_fails(project, tmp_path):
    (tmp_path / "curate.toml").write_text(CONFIG.replace("0.8", "0.9"))
    result = run("verify", project)
    assert result.exit_code == 1 and "config: ../curate.toml is missing or changed since certification" in result.stderr


def test_a_reformatted_certificate_fails(project):
    project.write_text(json.dumps(json.loads(project.read_text()), indent=4) + "\n")
    result = run("verify", project)
    assert result.exit_code == 1 and "not byte for byte as curate wrote it" in result.stderr


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("empty file list", lambda b: b.update(files=[]), "should be non-empty"),
        ("file list shortened", lambda b: b["files"].pop(), "files_sha256: certified"),
        (
            "shortened, hash recomputed",
            lambda b: (b["files"].pop(), b.update(files_sha256=sha256_of(b["files"]))),
            "summary: certified",
        ),
        ("rules edited", lambda b: b["rules"].remove("L001"), "rules: certified"),
        ("fail_on edited", lambda b: b.update(fail_on="info"), "fail_on: certified \"info\", found \"error\""),
        (
            "record count",
            lambda b: b["files"][0].update(records=2),
            "../data/train.jsonl: records certified 2, found 3",
        ),
        ("format", lambda b: b["files"][0].update(format="sharegpt"), "format certified \"sharegpt\""),
        ("split", lambda b: b["files"][1].update(split="unsplit"), "files_sha256: certified"),
        ("summary", lambda b: b["summary"]["by_severity"].update(warning=1), "summary: certified"),
        ("tool version", lambda b: b.update(tool_version="0.0.1"), "tool_version: certified by curate 0.0.1"),
        ("config settings", lambda b: b["config"]["settings"].update(select=["F"]), "config_sha256: certified"),
        (
            "config settings and hash",
            lambda b: (b["config"]["settings"].update(select=["F"]), b.update(config_sha256=sha256_of(b["config"]))),
            "rules: certified",
        ),
        ("config file dropped", lambda b: b["config"].update(file=None), "config_sha256: certified"),
        ("extra field", lambda b: b.update(note="ok"), "Additional properties are not allowed"),
        ("extra file field", lambda b: b["files"][0].update(ok=True), "Additional properties are not allowed"),
    ],
)
def test_every_edited_field_fails(project, name, change, message):
    edit(project, change)
    result = run("verify", project)
    assert result.exit_code in (1, 2), name
    assert message in result.stderr, result.stderr


def test_a_certificate_with_a_path_pointing_elsewhere_fails(project, tmp_path):
    write(tmp_path / "other" / "train.jsonl", TRAIN)
    edit(project, lambda b: b["files"][0].update(path="../other/train.jsonl"))
    assert run("verify", project).exit_code == 1


@pytest.mark.parametrize(
    "name, content",
    [
        ("not JSON", b"certificate"),
        ("binary", b"\x00\xff\xfe\x01" * 10),
        ("a list", b"[1, 2]"),
        ("wrong types", b'{"tool": "curate", "files": 5}'),
        ("missing keys", b'{"certificate_version": 2, "tool": "curate"}'),
        ("duplicate keys", b'{"tool": "curate", "tool": "curate"}'),
        ("NaN", b'{"tool": NaN}'),
        ("deeply nested", b"[" * 100000 + b"]" * 100000),
        ("lone surrogate", b'{"tool": "\\ud800\\n\\u001b[31m"}'),
    ],
)
def test_a_malformed_certificate_is_one_error_line(tmp_path, name, content):
    (tmp_path / "cert.json").write_bytes(content)
    result = run("verify", tmp_path / "cert.json")
    assert result.exit_code == 2, name
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(f"error: {tmp_path / 'cert.json'}: not a") and result.stderr.count("\n") == 1
    assert "\x1b" not in result.stderr


def test_a_huge_certificate_is_refused_without_reading_it_all(tmp_path):
    with open(tmp_path / "cert.json", "wb") as fh:
        fh.truncate(64 << 20)
    result = run("verify", tmp_path / "cert.json")
    assert result.exit_code == 2 and "larger than 16 MiB" in result.stderr


def test_a_fifo_certificate_is_refused(tmp_path):
    os.mkfifo(tmp_path / "cert.json")
    result = run("verify", tmp_path / "cert.json")
    assert result.exit_code == 2 and "a FIFO" in result.stderr


def test_signed_certificates(tmp_path, monkeypatch):
    write(tmp_path / "train.jsonl", TRAIN)
    monkeypatch.chdir(tmp_path)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    result = run("lint", "train.jsonl", "--certificate", "cert.json", "--key-file", key_file)
    assert result.exit_code == 0 and "Signed certificate written" in result.stderr
    assert run("verify", "cert.json", "--key-file", key_file).exit_code == 0
    assert run("verify", "cert.json", env={"CURATE_CERT_KEY": KEY}).exit_code == 0  # the same key from the environment
    unkeyed = run("verify", "cert.json")
    assert unkeyed.exit_code == 1 and "give the key" in unkeyed.stderr
    wrong = run("verify", "cert.json", env={"CURATE_CERT_KEY": "another-key-that-is-long-enough"})
    assert wrong.exit_code == 1 and "signature: does not match" in wrong.stderr


def test_a_short_key_is_an_error(tmp_path, monkeypatch):
    write(tmp_path / "train.jsonl", TRAIN)
    monkeypatch.chdir(tmp_path)
    result = run("lint", "train.jsonl", "--certificate", "cert.json", env={"CURATE_CERT_KEY": "short"})
    assert result.exit_code == 2 and "at least 16 bytes" in result.stderr and not (tmp_path / "cert.json").exists()


def test_the_certificate_never_overwrites_a_data_file(tmp_path, monkeypatch):
    data = write(tmp_path / "train.jsonl", TRAIN)
    before = Path(data).read_bytes()
    monkeypatch.chdir(tmp_path)
    result = run("lint", "train.jsonl", "--certificate", "./train.jsonl")
    assert result.exit_code == 2 and "--certificate ./train.jsonl is also an input" in result.stderr
    assert Path(data).read_bytes() == before
    (tmp_path / "curate.toml").write_text("select = ['ALL']\n")
    result = run("lint", "train.jsonl", "--certificate", "curate.toml")
    assert result.exit_code == 2 and "would overwrite the input file" in result.stderr
    assert (tmp_path / "curate.toml").read_text() == "select = ['ALL']\n"


# --- fuzz: any one edit fails verify ------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _nodes(value, path=()):
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _nodes(child, path + (key,))


def _mutate(body, data):
    """One edit anywhere in the certificate: a value replaced, a key or element removed or added."""
    nodes = list(_nodes(body))
    path, node = data.draw(st.sampled_from(nodes))
    op = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if op == "add" and isinstance(node, (dict, list)):
        if isinstance(node, dict):
            node[data.draw(st.text(max_size=8).filter(lambda k: k not in node))] = data.draw(JSON)
        else:
            node.insert(data.draw(st.integers(0, len(node))), data.draw(JSON))
        return
    assume(path)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if op == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON)


@pytest.fixture(scope="module")
def certified(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    cert = make_project(root)
    return cert, json.loads(cert.read_text())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_edit_fails_verify(certified, data):
    path, original = certified
    body = copy.deepcopy(original)
    _mutate(body, data)
    assume(canonical(body) != canonical(original))
    path.write_text(render(body))
    try:
        result = run("verify", path)
    finally:
        path.write_text(render(original))
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (1, 2), (body, result.output)


def test_the_fuzzed_certificate_is_valid_unedited(certified):
    assert run("verify", certified[0]).exit_code == 0


def test_problems_are_printed_inert(project):
    edit(project, lambda b: b["files"][0].update(path="\x1b[2J\nfake.jsonl:1: F001 ok"))
    result = run("verify", project)
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\\u001b[2J\\nfake.jsonl:1: F001 ok: missing" in result.stderr


def test_directory_globs_in_the_config_still_verify_from_the_project_root(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATE_CERT_KEY", raising=False)
    (tmp_path / "curate.toml").write_text('[per-file-ignores]\n"data/*.jsonl" = ["Q001"]\n')
    write(tmp_path / "data" / "train.jsonl", TRAIN)
    monkeypatch.chdir(tmp_path)
    assert run("lint", "data/train.jsonl", "--certificate", "data/cert.json").exit_code == 0
    assert json.loads((tmp_path / "data" / "cert.json").read_text())["summary"]["by_code"] == {}
    assert run("verify", "data/cert.json").exit_code == 0
