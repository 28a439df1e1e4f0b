"""Every output format is valid for the tool that reads it."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from conftest import write_jsonl

BAD = [
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
    '{"messages": [',
    '[1, 2]',
]


def _lint(run, tmp_path, fmt):
    (tmp_path / "data").mkdir(exist_ok=True)
    write_jsonl(tmp_path / "data" / "train.jsonl", BAD)
    result = run("lint", "data/train.jsonl", "--select", "F001,F002,F003", "--output-format", fmt)
    assert result.exit_code == 1
    return result.output


def test_text(run, tmp_path):
    out = _lint(run, tmp_path, "text").splitlines()
    assert out[0] == "data/train.jsonl:2: F001 invalid JSON: Expecting value at column 15"
    assert out[1].startswith("data/train.jsonl:3: F003 ")
    assert out[-1] == "Found 2 errors in 3 records (1 files)."


def test_json_schema(run, tmp_path):
    body = json.loads(_lint(run, tmp_path, "json"))
    assert set(body) == {"version", "summary", "diagnostics"}
    assert body["summary"] == {"records": 3, "files": 1, "by_code": {"F001": 1, "F003": 1},
                               "by_severity": {"error": 2, "warning": 0, "info": 0}}
    d = body["diagnostics"][0]
    assert set(d) == {"code", "name", "severity", "message", "path", "line", "pointer", "related"}
    assert (d["code"], d["name"], d["path"], d["line"], d["pointer"]) == ("F001", "invalid-json", "data/train.jsonl", 2, None)


def test_github_annotations(run, tmp_path):
    lines = _lint(run, tmp_path, "github").splitlines()
    pattern = re.compile(r"^::(error|warning|notice) file=[^,:]+,line=\d+,title=[^:]+::.+$")
    assert len(lines) == 2
    assert all(pattern.match(line) for line in lines), lines
    assert lines[0].startswith("::error file=data/train.jsonl,line=2,title=F001 invalid-json::")


def test_github_is_default_in_actions(run, tmp_path, monkeypatch):
    write_jsonl(tmp_path / "train.jsonl", BAD)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert run("lint", "train.jsonl", "--select", "F").output.startswith("::error file=train.jsonl,line=2")


def test_sarif(run, tmp_path):
    log = json.loads(_lint(run, tmp_path, "sarif"))
    assert log["version"] == "2.1.0" and "sarif" in log["$schema"]
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["F001", "F002", "F003"]
    for r in rules:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"] and r["name"]
    assert len(run_["results"]) == 2
    for res in run_["results"]:
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "data/train.jsonl"
        assert loc["region"]["startLine"] in (2, 3)
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] == "error" and res["message"]["text"]


def test_junit_is_xml(run, tmp_path):
    root = ET.fromstring(_lint(run, tmp_path, "junit").encode())
    assert root.tag == "testsuites" and root.get("failures") == "2"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 2
    assert cases[0].get("classname") == "data/train.jsonl" and cases[0].find("failure") is not None


def test_gitlab_code_quality(run, tmp_path):
    issues = json.loads(_lint(run, tmp_path, "gitlab"))
    assert len(issues) == 2
    for issue in issues:
        assert {"description", "check_name", "fingerprint", "severity", "location"} <= set(issue)
        assert issue["severity"] == "major"
        assert issue["location"]["path"] == "data/train.jsonl" and issue["location"]["lines"]["begin"] in (2, 3)
    assert len({i["fingerprint"] for i in issues}) == 2


def test_output_file_is_written(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD)
    result = run("lint", "train.jsonl", "--select", "F", "--output-format", "json", "-o", "report.json")
    assert result.exit_code == 1
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["records"] == 3


def test_statistics(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD + BAD)
    out = run("lint", "train.jsonl", "--select", "F", "--statistics").output
    assert re.search(r"^\s+2  F001  invalid-json$", out, re.M)
