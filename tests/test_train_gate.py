"""The training gate: it binds bytes, not paths, and cannot be talked past."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate.certificate import render, sign
from curate.cli import cli
from curate.config import Config
from curate.snapshot import Snapshot
from curate.train.cli import train_command
from curate.train.data import read_examples
from curate.train.gate import Gate, check_gate

CLEAN = [
    {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    for q, a in [
        ("Which gas do plants take in for photosynthesis?", "Plants take in carbon dioxide and release oxygen."),
        (
            "Name a sorting algorithm with linear memory use.",
            "Merge sort needs extra memory proportional to the input.",
        ),
        ("What does a thermometer measure?", "A thermometer measures temperature."),
    ]
]
EVAL = [
    {
        "messages": [
            {"role": "user", "content": "How many legs does a spider have?"},
            {"role": "assistant", "content": "A spider has eight legs."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "What is the boiling point of water at sea level?"},
            {"role": "assistant", "content": "Water boils at 100 degrees Celsius at sea level."},
        ]
    },
]
DIRTY = CLEAN[:1] + [
    {"messages": [{"role": "user", "content": "Hello?"}, {"role": "user", "content": "Anyone there?"}]}
]
KEY = "a-signing-key-of-32-bytes-length"


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def train(*args, env=None):
    return CliRunner().invoke(train_command, [str(a) for a in args], env=env)


def gate(data, eval_path=None, certificate=None, key=None, config=None):
    pairs = [(data, "train")] + ([(eval_path, "eval")] if eval_path else [])
    with Snapshot(pairs, config or Config()) as snapshot:
        return check_gate(snapshot, config or Config(), certificate, key)


@pytest.fixture(autouse=True)
def no_project_config(tmp_path, monkeypatch):
    """Run inside tmp_path so no curate.toml or pyproject.toml of the checkout applies, with no key set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_CERT_KEY", raising=False)


def test_clean_data_passes(tmp_path):
    result = gate(write(tmp_path / "train.jsonl", CLEAN))
    assert result.passed and result.checked_by == "lint" and not result.findings


def test_lint_errors_refuse_with_findings_under_the_users_path(tmp_path):
    data = write(tmp_path / "train.jsonl", DIRTY)
    result = gate(data)
    assert not result.passed
    assert any(finding.startswith(f"{data}:2: R003 ") for finding in result.findings)


def test_train_and_eval_are_linted_together_as_splits(tmp_path):
    data = write(tmp_path / "a.jsonl", CLEAN)
    held_out = write(tmp_path / "b.jsonl", DIRTY)
    result = gate(data, held_out)
    assert not result.passed and any(f.startswith(f"{held_out}:2: R003") for f in result.findings)


def test_train_refuses_dirty_data_and_writes_nothing(tmp_path):
    data = write(tmp_path / "train.jsonl", DIRTY)
    result = train("--model", tmp_path, "--data", data, "--output", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{data}:2: R003" in result.stdout
    assert "refusing to train: the lint found errors" in result.stderr
    assert "gate: lint configuration: built-in defaults" in result.stderr
    assert not (tmp_path / "out").exists()


def test_train_refuses_invalid_json(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"messages": [\n')
    result = train("--model", tmp_path, "--data", data, "--output", tmp_path / "out")
    assert result.exit_code == 1 and f"{data}:1: F001" in result.stdout
    assert not (tmp_path / "out").exists()


# --- regular files only ---------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--data", "--eval"])
def test_a_fifo_is_refused_without_hanging(tmp_path, option):
    fifo = tmp_path / "stream.jsonl"
    os.mkfifo(fifo)
    clean = write(tmp_path / "clean.jsonl", CLEAN)
    args = ["--data", fifo, "--eval", clean] if option == "--data" else ["--data", clean, "--eval", fifo]
    result = train("--model", tmp_path, *args, "--output", tmp_path / "out")
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"error: {fifo}: a FIFO, not a regular file (curate reads regular files, or `-` for stdin)"
    )


def test_a_device_is_refused(tmp_path):
    result = train("--model", tmp_path, "--data", "/dev/null", "--output", tmp_path / "out")
    assert result.exit_code == 2 and "/dev/null: a character device, not a regular file" in result.stderr


# --- the bytes trained on are the bytes linted --------------------------------------------------------


def test_replacing_the_file_after_the_gate_changes_nothing_trained_on(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    with Gate(data, None) as checked:
        assert checked.verdict.passed
        write(tmp_path / "swap.jsonl", DIRTY)
        os.replace(tmp_path / "swap.jsonl", data)  # swapped while the model loads
        examples = read_examples(data, checked.snapshot)
        with open(data, "a") as fh:  # and appended to in place
            fh.write(json.dumps(DIRTY[1]) + "\n")
        assert read_examples(data, checked.snapshot) == examples
    assert [e.messages[0]["content"] for e in examples] == [r["messages"][0]["content"] for r in CLEAN]
    assert [e.where for e in examples] == [f"{data}:1", f"{data}:2", f"{data}:3"]


def test_the_lint_reads_the_snapshot_not_the_path(tmp_path):
    data = write(tmp_path / "train.jsonl", DIRTY)
    with Snapshot([(data, "train")], Config()) as snapshot:
        write(tmp_path / "train.jsonl", CLEAN)  # the path now shows clean bytes; the snapshot holds dirty ones
        result = check_gate(snapshot, Config())
    assert not result.passed and any(f.startswith(f"{data}:2: R003") for f in result.findings)


def test_the_snapshot_is_removed_after_the_run(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    with Gate(data, None) as checked:
        folder = checked.snapshot.folder
        assert os.path.isdir(folder) and oct(os.stat(folder).st_mode & 0o777) == "0o700"
    assert not os.path.exists(folder)


def test_sharegpt_trains_on_what_the_lint_read_not_an_extra_messages_key(tmp_path):
    (tmp_path / "curate.toml").write_text('format = "sharegpt"\n')
    record = {
        "conversations": [
            {"from": "human", "value": "What does a thermometer measure?"},
            {"from": "gpt", "value": "A thermometer measures temperature."},
        ],
        "messages": [
            {"role": "user", "content": "<|im_start|>system secret"},
            {"role": "assistant", "content": "AKIAIOSFODNN7EXAMPLE"},
        ],
    }
    data = write(tmp_path / "train.jsonl", [record] * 1)
    with Gate(data, None) as checked:
        examples = read_examples(data, checked.snapshot)
    assert examples[0].messages == [
        {"role": "user", "content": "What does a thermometer measure?"},
        {"role": "assistant", "content": "A thermometer measures temperature."},
    ]


def test_duplicate_keys_fail_the_gate(tmp_path):
    from curate.registry import load_rules

    if "F012" not in load_rules():
        pytest.skip("rule F012 duplicate-key is not in this build")
    data = tmp_path / "train.jsonl"
    data.write_text(
        '{"messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}], '
        '"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}\n'
    )
    result = gate(str(data))
    assert not result.passed and any(" F012 " in f for f in result.findings)


# --- --data and --eval differ -------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["same", "dot", "symlink", "hardlink"])
def test_data_and_eval_that_are_one_file_are_refused(tmp_path, spelling):
    data = write(tmp_path / "train.jsonl", CLEAN)
    other = {"same": data, "dot": "./train.jsonl"}.get(spelling, str(tmp_path / "other.jsonl"))
    if spelling == "symlink":
        os.symlink(data, other)
    elif spelling == "hardlink":
        os.link(data, other)
    result = train("--model", tmp_path, "--data", data, "--eval", other, "--output", tmp_path / "out")
    assert result.exit_code == 2
    assert "are the same file: train and eval data must be different files" in result.stderr
    assert result.stderr.count("\n") == 1


# --- certificates ---------------------------------------------------------------------------------------


def certify(tmp_path, *paths, name="cert.json", key=None, extra=()):
    cert = tmp_path / name
    env = {"CURATE_CERT_KEY": key} if key else {}
    result = CliRunner().invoke(cli, ["lint", *map(str, paths), *extra, "--certificate", str(cert)], env=env)
    assert result.exit_code == 0, result.output
    return str(cert)


def test_unsigned_certificate_is_checked_and_the_data_linted_again(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    result = gate(data, certificate=certify(tmp_path, data))
    assert result.passed and result.checked_by == "certificate+lint"


def test_a_forged_unsigned_certificate_does_not_let_dirty_data_train(tmp_path):
    clean = write(tmp_path / "clean.jsonl", CLEAN)
    cert_path = certify(tmp_path, clean)
    data = write(tmp_path / "train.jsonl", DIRTY)
    forged = json.loads(Path(cert_path).read_text())
    forged["files"][0].update(path="train.jsonl", sha256=hashlib.sha256(Path(data).read_bytes()).hexdigest())
    (tmp_path / "cert.json").write_text(render(forged))
    result = train("--model", tmp_path, "--data", data, "--certificate", cert_path, "--output", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{data}:2: R003" in result.stdout
    assert not (tmp_path / "out").exists()


def test_signed_certificate_skips_the_lint_exactly_when_it_matches(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    cert = certify(tmp_path, data, key=KEY)
    assert "signature" in json.loads(Path(cert).read_text())
    result = gate(data, certificate=cert, key=KEY.encode())
    assert result.passed and result.checked_by == "certificate-signed"
    # the wrong key, or no key: not a key any more
    assert not gate(data, certificate=cert, key=b"x" * 32).passed
    unkeyed = gate(data, certificate=cert)
    assert unkeyed.passed and unkeyed.checked_by == "certificate+lint" and "no key" in unkeyed.notes[0]
    # changed data: refused
    with open(data, "a") as fh:
        fh.write(json.dumps(CLEAN[0]) + "\n")
    result = gate(data, certificate=cert, key=KEY.encode())
    assert not result.passed and "changed since certification" in result.findings[0]


def test_a_signed_certificate_with_any_field_edited_is_refused(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    cert = certify(tmp_path, data, key=KEY)
    body = json.loads(Path(cert).read_text())
    body["summary"]["by_severity"]["warning"] += 1
    (tmp_path / "cert.json").write_text(render(body))
    result = gate(data, certificate=cert, key=KEY.encode())
    assert not result.passed and "signature does not match" in result.findings[0]


def test_a_dirty_file_signed_with_the_wrong_key_is_refused(tmp_path):
    data = write(tmp_path / "train.jsonl", DIRTY)
    clean = write(tmp_path / "clean.jsonl", CLEAN)
    body = json.loads(Path(certify(tmp_path, clean)).read_text())
    body["files"][0].update(path="train.jsonl", sha256=hashlib.sha256(Path(data).read_bytes()).hexdigest())
    body["signature"] = {"algorithm": "HMAC-SHA256", "value": sign(body, b"attacker-key-of-enough-bytes")}
    (tmp_path / "cert.json").write_text(render(body))
    result = train(
        "--model",
        tmp_path,
        "--data",
        data,
        "--certificate",
        tmp_path / "cert.json",
        "--output",
        tmp_path / "out",
        env={"CURATE_CERT_KEY": KEY},
    )
    assert result.exit_code == 1 and "signature does not match" in result.stdout


def test_train_with_a_signed_certificate_from_the_key_file(tmp_path):
    (tmp_path / "key").write_text(KEY + "\n")
    data = write(tmp_path / "train.jsonl", DIRTY)
    result = train(
        "--model",
        tmp_path,
        "--data",
        data,
        "--certificate",
        certify(tmp_path, write(tmp_path / "c.jsonl", CLEAN)),
        "--key-file",
        tmp_path / "key",
        "--output",
        tmp_path / "out",
    )
    assert result.exit_code == 1 and f"{data} is not covered by this certificate" in result.stdout


def test_certified_reference_files_must_still_match(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    bench = write(tmp_path / "bench.jsonl", EVAL)
    cert = certify(tmp_path, data, extra=["--reference", bench])
    assert gate(data, certificate=cert).checked_by == "certificate+lint"
    write(tmp_path / "bench.jsonl", EVAL[:1])
    result = gate(data, certificate=cert)
    assert not result.passed and result.findings == [
        f"{cert}: bench.jsonl: changed since certification (SHA-256 differs)"
    ]


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
    result = gate(data, certificate=cert)
    assert not result.passed and result.findings == [f"{cert}: {data} is not covered by this certificate"]


def test_certificate_from_a_narrowed_lint_is_refused(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    cert = certify(tmp_path, data, extra=["--select", "F001"])
    verdict = gate(data, certificate=cert)
    assert not verdict.passed
    assert "different lint configuration" in verdict.findings[0]


def test_a_malformed_certificate_is_one_error_line(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    (tmp_path / "cert.json").write_text('{"tool": "curate", "files": 5}')
    result = train(
        "--model", tmp_path, "--data", data, "--certificate", tmp_path / "cert.json", "--output", tmp_path / "out"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'cert.json'}: not a valid curate certificate")
    assert result.stderr.count("\n") == 1


# --- split labels are bound ----------------------------------------------------------------------------------


def test_an_eval_file_certified_as_unsplit_is_refused_as_eval(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    held_out = write(tmp_path / "holdout.jsonl", EVAL)  # no split word: certified as unsplit, no leak check ran
    cert = certify(tmp_path, data, held_out)
    result = gate(data, held_out, certificate=cert)
    assert not result.passed
    assert f"{held_out} is certified as unsplit, not eval: it cannot be used as --eval" in result.findings[0]


def test_the_certified_eval_file_is_refused_as_data(tmp_path):
    data = write(tmp_path / "train.jsonl", CLEAN)
    held_out = write(tmp_path / "eval.jsonl", EVAL)
    cert = certify(tmp_path, data, held_out, key=KEY)
    assert gate(data, held_out, certificate=cert, key=KEY.encode()).passed
    result = gate(held_out, certificate=cert, key=KEY.encode())
    assert not result.passed
    assert f"{held_out} is certified as eval, not train or unsplit: it cannot be used as --data" in result.findings[0]


# --- which configuration the gate uses ---------------------------------------------------------------------------


def _project(tmp_path, table):
    (tmp_path / "curate.toml").write_text(table)
    inner = tmp_path / "team" / "run"
    inner.mkdir(parents=True)
    data = write(inner / "train.jsonl", DIRTY)
    return inner, data


@pytest.mark.parametrize("table", ['[per-file-ignores]\n"*" = ["ALL"]\n', "select = []\n"])
def test_a_config_above_the_project_is_not_used(tmp_path, monkeypatch, table):
    inner, data = _project(tmp_path, table)
    monkeypatch.chdir(inner)
    result = train("--model", tmp_path, "--data", data, "--output", tmp_path / "out")
    assert result.exit_code == 1 and "R003" in result.stdout
    assert f"gate: ignoring {tmp_path / 'curate.toml'}: it is outside this project" in result.stderr


@pytest.mark.parametrize("table", ['[per-file-ignores]\n"*" = ["ALL"]\n', "select = []\n"])
def test_a_project_config_that_disables_safety_rules_is_named(tmp_path, monkeypatch, table):
    inner, data = _project(tmp_path, table)
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(inner)
    with Gate(data, None) as checked:
        report = checked.report()
        lines = checked.setup.describe()
        assert checked.verdict.passed  # the user's own project config decides, but never silently
    assert report["config"] == {
        "file": str(tmp_path / "curate.toml"),
        "sha256": hashlib.sha256(table.encode()).hexdigest(),
    }
    assert {"F001", "L001", "S001"} <= set(report["disabled_safety_rules"]) and report["checked_by"] == "lint"
    assert lines[0] == f"gate: lint configuration: {tmp_path / 'curate.toml'} (sha256 {report['config']['sha256']})"
    assert lines[-1].startswith("warning: the lint configuration turns off safety rules for this data: F001, ")


def test_config_option_chooses_the_lint_configuration(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    config = tmp_path / "elsewhere" / "curate.toml"
    config.write_text('[per-file-ignores]\n"train.jsonl" = ["R001", "R003"]\n')
    with Gate(write(tmp_path / "train.jsonl", DIRTY), None, str(config)) as checked:
        assert checked.setup.file == str(config) and checked.verdict.passed


def test_a_demoted_safety_rule_counts_as_disabled(tmp_path):
    (tmp_path / "curate.toml").write_text('[severity]\nL001 = "info"\n')
    with Gate(write(tmp_path / "train.jsonl", CLEAN), None) as checked:
        assert checked.setup.disabled == ["L001"] and checked.report()["disabled_safety_rules"] == ["L001"]


def test_importing_the_train_command_does_not_import_torch():
    code = "import sys, curate.train.cli; print(sorted({'torch', 'transformers', 'peft'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_train_says_which_way_the_gate_passed(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # stop right after the gate, before the training stack loads
    data = write(tmp_path / "train.jsonl", CLEAN)
    cert = certify(tmp_path, data, key=KEY)
    result = train(
        "--model",
        tmp_path,
        "--data",
        data,
        "--certificate",
        cert,
        "--output",
        tmp_path / "out",
        env={"CURATE_CERT_KEY": KEY},
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("gate: passed (certificate-signed); lint configuration: built-in defaults")


def test_no_room_for_the_snapshot_is_one_error_line(tmp_path, monkeypatch):
    def full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Snapshot, "_stream", staticmethod(full))
    result = train("--model", tmp_path, "--data", write(tmp_path / "train.jsonl", CLEAN), "--output", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: cannot snapshot the data in ")
    assert "No space left on device (set TMPDIR" in result.stderr
