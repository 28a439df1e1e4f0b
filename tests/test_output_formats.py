"""Every output format is valid for the tool that reads it."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from conftest import conv, write_jsonl

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
    assert body["summary"] == {
        "records": 3,
        "files": 1,
        "by_code": {"F001": 1, "F003": 1},
        "by_severity": {"error": 2, "warning": 0, "info": 0},
    }
    d = body["diagnostics"][0]
    assert set(d) == {"code", "name", "severity", "message", "path", "line", "pointer", "related"}
    assert (d["code"], d["name"], d["path"], d["line"], d["pointer"]) == (
        "F001",
        "invalid-json",
        "data/train.jsonl",
        2,
        None,
    )


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


# Hostile text: keys, roles, content and file names that try to fake lines, send escapes or break encoders.
HOSTILE_RECORDS = [
    '{"messages": [{"role": "user", "content": "hi\\u001b[2J\\u0000"}, {"role": "assistant", "content": "ok"}],'
    ' "x\\ndata/train.jsonl:1: F001 fake \\u001b]0;pwned\\u0007": 1}',
    '{"messages": [{"role": "\\ud800", "content": "a\\udcff b"}, {"role": "assistant", "content": "\\u202eok"}]}',
    '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant\\r\\n::error::x", "content": "%0A,:"}]}',
]
HOSTILE_NAME = "odd, na:me %\u202e\nx.jsonl"
FORMATS = ("text", "json", "github", "sarif", "junit", "gitlab")


def _hostile(run, tmp_path, fmt):
    write_jsonl(tmp_path / HOSTILE_NAME, HOSTILE_RECORDS)
    raw_name = os.fsdecode(b"raw\xffname.jsonl")  # an undecodable file name: a lone surrogate in the path
    write_jsonl(tmp_path / raw_name, HOSTILE_RECORDS[1:])
    result = run("lint", HOSTILE_NAME, raw_name, "--select", "F,R", "--output-format", fmt)
    assert result.exit_code == 1, result.output
    return result.stdout_bytes.decode("utf-8")  # strict: every format is valid UTF-8


def test_hostile_text_is_inert_in_text_output(run, tmp_path):
    out = _hostile(run, tmp_path, "text")
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f\u202e\ud800-\udfff]", out)
    lines = out.splitlines()
    assert all(
        line.startswith(("odd, na:me %\\u202e\\x0ax.jsonl:", "raw\\udcffname.jsonl:", "    related", "Found "))
        for line in lines
    ), lines
    assert not any(line.startswith("data/train.jsonl") for line in lines)
    assert 'unknown record key "x\\ndata/train.jsonl:1: F001 fake' in out and "\\ud800" in out


def test_hostile_text_keeps_json_formats_parseable(run, tmp_path):
    for fmt in ("json", "sarif", "gitlab"):
        json.loads(_hostile(run, tmp_path, fmt))
    body = json.loads(_hostile(run, tmp_path, "json"))
    assert body["summary"]["files"] == 2 and body["diagnostics"]


def test_hostile_text_keeps_junit_well_formed(run, tmp_path):
    root = ET.fromstring(_hostile(run, tmp_path, "junit").encode())
    assert int(root.get("failures")) >= 3
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", ET.tostring(root, encoding="unicode"))


def test_hostile_text_in_github_annotations(run, tmp_path):
    lines = _hostile(run, tmp_path, "github").splitlines()
    pattern = re.compile(r"^::(error|warning|notice) file=[^,:\r\n]+,line=\d+,title=[^:,]+::[^\r\n]+$")
    assert lines and all(pattern.match(line) for line in lines), lines
    assert any("file=odd%2C na%3Ame %25\u202e%0Ax.jsonl" in line for line in lines)


def test_sarif_uris_are_percent_encoded_and_relative(run, tmp_path):
    log = json.loads(_hostile(run, tmp_path, "sarif"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"odd%2C%20na%3Ame%20%25%E2%80%AE%0Ax.jsonl", "raw%FFname.jsonl"}
    assert unquote(next(u for u in uris if u.startswith("odd"))) == HOSTILE_NAME


def test_sarif_uri_of_an_absolute_path_is_relative(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD)
    log = json.loads(run("lint", str(tmp_path / "train.jsonl"), "--select", "F", "--output-format", "sarif").output)
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "train.jsonl"


def test_gitlab_fingerprints_survive_moves_and_new_findings(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD)
    before = {
        i["description"]: i["fingerprint"]
        for i in json.loads(run("lint", "train.jsonl", "--select", "F", "--output-format", "gitlab").output)
    }
    write_jsonl(tmp_path / "train.jsonl", ['{"messages": 3}', BAD[2], BAD[0], '"x"', BAD[1]])
    after = json.loads(run("lint", "train.jsonl", "--select", "F", "--output-format", "gitlab").output)
    assert len(after) == 4 and len({i["fingerprint"] for i in after}) == 4
    moved = {i["description"]: i["fingerprint"] for i in after if i["description"] in before}
    assert moved == before and len(moved) == 2


def test_json_statistics(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD + BAD)
    body = json.loads(run("lint", "train.jsonl", "--select", "F", "--statistics", "--output-format", "json").output)
    assert body["statistics"] == [
        {"code": "F001", "name": "invalid-json", "count": 2},
        {"code": "F003", "name": "not-an-object", "count": 2},
    ]
    plain = json.loads(run("lint", "train.jsonl", "--select", "F", "--output-format", "json").output)
    assert "statistics" not in plain


def _duplicates_and_a_leak(tmp_path):
    a = conv("How many legs does a spider have?", "Spiders have eight legs.")
    b = conv("What is the largest ocean?", "The Pacific Ocean is the largest.")
    write_jsonl(tmp_path / "eval.jsonl", [conv("Name a prime above ten.", "Eleven."), b])
    write_jsonl(tmp_path / "train.jsonl", [a, conv("Say hi.", "Hi!"), a, b])
    return ["train.jsonl", "eval.jsonl", "--select", "D001,L001"]


def test_text_prints_related_locations_under_their_finding(run, tmp_path):
    out = run("lint", *_duplicates_and_a_leak(tmp_path)).output
    assert out.splitlines() == [
        "train.jsonl:3: D001 same normalized conversation as the earlier record at train.jsonl:1",
        "    related: train.jsonl:1",
        "train.jsonl:4: L001 same normalized conversation as the eval record at eval.jsonl:2",
        "    related: eval.jsonl:2",
        "Found 1 error, 1 warning in 6 records (2 files).",
    ]


def test_sarif_related_locations(run, tmp_path):
    log = json.loads(run("lint", *_duplicates_and_a_leak(tmp_path), "--output-format", "sarif").output)

    def location(uri, line):
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": line},
            }
        }

    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"], r["relatedLocations"]) for r in results] == [
        ("D001", [location("train.jsonl", 3)], [{**location("train.jsonl", 1), "id": 0}]),
        ("L001", [location("train.jsonl", 4)], [{**location("eval.jsonl", 2), "id": 0}]),
    ]
    assert all(len(r["partialFingerprints"]["curateFindingHash/v1"]) == 20 for r in results)


def test_github_annotation_escaping():
    """Workflow-command escaping: `%`, CR and LF everywhere, and `:` and `,` in properties too."""
    from curate.diagnostics import Diagnostic
    from curate.output import github

    d = Diagnostic("Q999", "odd:name,x", "info", "50% done\r\nnext::line, a:b", "dir/a,b:c%.jsonl", 3)
    assert github.render(None, [d]) == (
        "::notice file=dir/a%2Cb%3Ac%25.jsonl,line=3,title=Q999 odd%3Aname%2Cx::50%25 done%0D%0Anext::line, a:b\n"
    )
