"""The training gate: a matching certificate or a clean fresh lint, or no training."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.train.cli import train_command
from curate.train.gate import check_gate

CLEAN = [
    {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    for q, a in [
        ("Which gas do plants take in for photosynthesis?", "Plants take in carbon dioxide and release oxygen."),
        ("Name a sorting algorithm with linear memory use.", "Merge sort needs extra memory proportional to the input."),
        ("What does a thermometer measure?", "A thermometer measures temperature."),
    ]
]
DIRTY = CLEAN[:1] + [{"messages": [{"role": "user", "content": "Hello?"}, {"role": "user", "content": "Anyone there?"}]}]


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def train(*args):
    return CliRunner().invoke(train_command, [str(a) for a in args])


@pytest.fixture(autouse=True)
def no_project_config(tmp_path, monkeypatch):
    """Run inside tmp_path so no curate.toml or pyproject.toml of the checkout applies."""
    monkeypatch.chdir(tmp_path)


def test_clean_data_passes(tmp_path):
    result = check_gate([write(tmp_path / "train.jsonl", CLEAN)])
    assert result.passed and result.checked_by == "lint" and not result.findings


def test_lint_errors_refuse_with_located_findings(tmp_path):
    data = write(tmp_path / "train.jsonl", DIRTY)
    result = check_gate([data])
    assert not result.passed
    assert any(finding.startswith(f"{data}:2: R003 ") for finding in result.findings)


def test_train_and_eval_are_linted_together_as_splits(tmp_path):
    data = write(tmp_path / "a.jsonl", CLEAN)
    held_out = write(tmp_path / "b.jsonl", DIRTY)
    result = check_gate([data, held_out], None, {data: "train", held_out: "eval"})
    assert not result.passed and any(f.startswith(f"{held_out}:2: R003") for f in result.findings)


def test_train_refuses_dirty_data_and_writes_nothing(tmp_path):
    data = write(tmp_path / "train.jsonl", DIRTY)
    result = train("--model", tmp_path, "--data", data, "--output", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{data}:2: R003" in result.stdout
    assert "refusing to train: the lint found errors" in result.stderr
    assert not (tmp_path / "out").exists()


def test_train_refuses_invalid_json(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"messages": [\n')
    result = train("--model", tmp_path, "--data", data, "--output", tmp_path / "out")
    assert result.exit_code == 1 and f"{data}:1: F001" in result.stdout
    assert not (tmp_path / "out").exists()


def certify(tmp_path, data):
    cert = tmp_path / "cert.json"
    result = CliRunner().invoke(cli, ["lint", data, "--certificate", str(cert)])
    assert result.exit_code == 0, result.output
    return str(cert)


def test_matching_certificate_passes_without_a_lint(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    result = check_gate([data], certify(tmp_path, data))
    assert result.passed and result.checked_by == "certificate"


def test_certificate_refuses_changed_data(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    cert = certify(tmp_path, data)
    with open(data, "a") as fh:
        fh.write(json.dumps(CLEAN[0]) + "\n")
    result = train("--model", tmp_path, "--data", data, "--output", tmp_path / "out", "--certificate", cert)
    assert result.exit_code == 1
    assert "changed since certification" in result.stdout
    assert "the certificate does not match the data" in result.stderr
    assert not (tmp_path / "out").exists()


def test_certificate_must_cover_the_data(tmp_path):
    cert = certify(tmp_path, write(tmp_path / "other.jsonl", CLEAN[:2]))
    data = write(tmp_path / "train.jsonl", CLEAN)
    result = check_gate([data], cert)
    assert not result.passed and result.findings == [f"{cert}: {data} is not covered by this certificate"]


def test_certificate_from_a_narrowed_lint_is_refused(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    cert = tmp_path / "narrow.json"
    result = CliRunner().invoke(cli, ["lint", data, "--select", "F001", "--certificate", str(cert)])
    assert result.exit_code == 0 and cert.exists()
    verdict = check_gate([data], str(cert))
    assert not verdict.passed
    assert "different lint configuration" in verdict.findings[0]


def test_importing_the_train_command_does_not_import_torch():
    code = "import sys, curate.train.cli; print(sorted({'torch', 'transformers', 'peft'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
