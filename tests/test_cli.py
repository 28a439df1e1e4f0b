"""The lint command as a user drives it: exit codes, selection, config, baseline, certificate."""

from __future__ import annotations

import json

from conftest import write_jsonl

from curate.registry import load_rules

BAD = [
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
    '{"messages": [',
    '[1, 2]',
]


def _json(result):
    return json.loads(result.output)


def test_exit_codes(run, tmp_path, clean_records):
    write_jsonl(tmp_path / "good.jsonl", clean_records)
    write_jsonl(tmp_path / "bad.jsonl", BAD)
    assert run("lint", "good.jsonl", "--select", "F").exit_code == 0
    result = run("lint", "bad.jsonl", "--select", "F")
    assert result.exit_code == 1
    assert "bad.jsonl:2: F001 invalid JSON" in result.output
    assert "bad.jsonl:3: F003" in result.output
    assert run("lint", "missing.jsonl").exit_code == 2
    assert run("lint", "good.jsonl", "--select", "Z9").exit_code == 2
    assert run("lint", "good.jsonl", "--output-format", "yaml").exit_code == 2


def test_missing_file_is_one_line(run):
    result = run("lint", "nope.jsonl")
    assert result.exit_code == 2
    assert result.output.strip() == "error: nope.jsonl: no such file or directory"


def test_empty_directory_is_an_error(run, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    result = run("lint", "empty")
    assert result.exit_code == 2
    assert "no dataset files" in result.output


def test_directory_means_every_dataset_file(run, tmp_path):
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "a.jsonl", BAD)
    write_jsonl(tmp_path / "data" / "b.jsonl", BAD)
    report = _json(run("lint", "data", "--select", "F001", "--output-format", "json"))
    assert report["summary"]["files"] == 2
    assert [(d["path"], d["line"]) for d in report["diagnostics"]] == [("data/a.jsonl", 2), ("data/b.jsonl", 2)]


def test_select_ignore_and_prefixes(run, tmp_path):
    write_jsonl(tmp_path / "bad.jsonl", BAD)
    codes = {
        d["code"]
        for d in _json(run("lint", "bad.jsonl", "--select", "F00", "--ignore", "F003", "--output-format", "json"))[
            "diagnostics"
        ]
    }
    assert codes == {"F001"}


def test_fail_on_warning(run, tmp_path):
    write_jsonl(tmp_path / "bad.jsonl", BAD)
    (tmp_path / "curate.toml").write_text('[severity]\nF001 = "warning"\nF003 = "info"\n')
    assert run("lint", "bad.jsonl", "--select", "F001,F003").exit_code == 0
    assert run("lint", "bad.jsonl", "--select", "F001,F003", "--fail-on", "warning").exit_code == 1
    report = _json(run("lint", "bad.jsonl", "--select", "F001,F003", "--output-format", "json"))
    assert report["summary"]["by_severity"] == {"error": 0, "warning": 1, "info": 1}


def test_unknown_config_key_is_named(run, tmp_path):
    write_jsonl(tmp_path / "x.jsonl", BAD)
    (tmp_path / "pyproject.toml").write_text('[tool.curate]\nselect = ["F"]\nfrobnicate = 1\n')
    result = run("lint", "x.jsonl")
    assert result.exit_code == 2
    assert "frobnicate" in result.output


def test_unknown_rule_option_is_named(run, tmp_path):
    write_jsonl(tmp_path / "x.jsonl", BAD)
    (tmp_path / "curate.toml").write_text('[rules.F001]\nthreshold = 3\n')
    result = run("lint", "x.jsonl")
    assert result.exit_code == 2
    assert "threshold" in result.output and "F001" in result.output


def test_per_file_ignores(run, tmp_path):
    write_jsonl(tmp_path / "legacy.jsonl", BAD)
    write_jsonl(tmp_path / "new.jsonl", BAD)
    (tmp_path / "curate.toml").write_text('select = ["F"]\n[per-file-ignores]\n"legacy*.jsonl" = ["F001"]\n')
    found = {
        (d["path"], d["code"])
        for d in _json(run("lint", "legacy.jsonl", "new.jsonl", "--output-format", "json"))["diagnostics"]
    }
    assert ("legacy.jsonl", "F001") not in found
    assert ("new.jsonl", "F001") in found and ("legacy.jsonl", "F003") in found


def test_baseline_fails_only_on_new_findings(run, tmp_path):
    path = tmp_path / "data.jsonl"
    write_jsonl(path, BAD)
    assert run("lint", "data.jsonl", "--select", "F", "--write-baseline", "baseline.json").exit_code == 0
    assert run("lint", "data.jsonl", "--select", "F", "--baseline", "baseline.json").exit_code == 0
    # moving the known bad records to other lines keeps them known
    write_jsonl(path, [BAD[0], BAD[0], BAD[2], BAD[1]])
    assert run("lint", "data.jsonl", "--select", "F", "--baseline", "baseline.json").exit_code == 0
    # a new bad record fails, and only it is reported
    write_jsonl(path, [BAD[0], BAD[2], BAD[1], '{"messages": nope}'])
    result = run("lint", "data.jsonl", "--select", "F", "--baseline", "baseline.json")
    assert result.exit_code == 1
    assert "data.jsonl:4: F001" in result.output and "data.jsonl:3:" not in result.output


def test_jobs_give_identical_output(run, tmp_path, clean_records):
    records = (clean_records + BAD) * 300
    write_jsonl(tmp_path / "big.jsonl", records)
    one = run("lint", "big.jsonl", "--select", "F,R", "--output-format", "json", "--jobs", "1").output
    two = run("lint", "big.jsonl", "--select", "F,R", "--output-format", "json", "--jobs", "2").output
    assert one == two
    assert len(json.loads(one)["diagnostics"]) >= 600


def test_certificate_written_only_when_passing_and_verify(run, tmp_path, clean_records):
    write_jsonl(tmp_path / "train.jsonl", clean_records)
    write_jsonl(tmp_path / "bad.jsonl", BAD)
    assert run("lint", "bad.jsonl", "--select", "F", "--certificate", "bad.cert.json").exit_code == 1
    assert not (tmp_path / "bad.cert.json").exists()
    assert run("lint", "train.jsonl", "--select", "F", "--certificate", "cert.json").exit_code == 0
    cert = json.loads((tmp_path / "cert.json").read_text())
    assert cert["files"][0]["path"] == "train.jsonl"
    assert cert["files"][0]["split"] == "train"
    assert cert["files"][0]["records"] == len(clean_records)
    assert len(cert["files"][0]["sha256"]) == 64
    assert cert["rules"] == [code for code in load_rules() if code.startswith("F")]
    assert run("verify", "cert.json").exit_code == 0
    data = (tmp_path / "train.jsonl").read_bytes()
    (tmp_path / "train.jsonl").write_bytes(data[:-2] + b" }\n")  # one changed byte
    result = run("verify", "cert.json")
    assert result.exit_code == 1
    assert "train.jsonl" in result.output


def test_baseline_never_certifies_known_errors(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD)
    run("lint", "train.jsonl", "--select", "F", "--write-baseline", "baseline.json")
    result = run("lint", "train.jsonl", "--select", "F", "--baseline", "baseline.json", "--certificate", "c.json")
    assert result.exit_code == 0
    assert not (tmp_path / "c.json").exists()


def test_split_override_and_names(run, tmp_path, clean_records):
    for name in ("interval.jsonl", "my-dev-set.jsonl", "data.jsonl"):
        write_jsonl(tmp_path / name, clean_records[:1])
    assert (
        run(
            "lint",
            "interval.jsonl",
            "my-dev-set.jsonl",
            "data.jsonl",
            "--split",
            "test=data.jsonl",
            "--select",
            "F",
            "--certificate",
            "c.json",
        ).exit_code
        == 0
    )
    splits = {f["path"]: f["split"] for f in json.loads((tmp_path / "c.json").read_text())["files"]}
    assert splits == {"interval.jsonl": "unsplit", "my-dev-set.jsonl": "eval", "data.jsonl": "test"}


def test_rule_command(run):
    table = run("rule")
    assert table.exit_code == 0
    assert "F001  invalid-json" in table.output
    doc = run("rule", "F001")
    assert "## What it does" in doc.output and "## Fix" in doc.output
    assert run("rule", "invalid-json").output == doc.output
    assert run("rule", "X999").exit_code == 2


def test_python_m_curate(repo_root, tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "curate", "rule", "F001"], capture_output=True, text=True)
    assert out.returncode == 0 and "invalid-json" in out.stdout
