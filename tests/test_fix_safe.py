"""`curate fix` applies the safe fixes (F006 role aliases, F010 whitespace) and loses nothing."""

from __future__ import annotations

import json

from conftest import write_jsonl

BROKEN = '{"messages": [{"role": "user", "content": "caf\u00e9 \\u00e9"}, {"role": "assistant"'

RECORDS = [
    {"messages": [{"role": "human", "content": " What is 2+2?\n"}, {"role": "gpt", "content": "4\n\n"}]},
    {"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]},
    BROKEN,
    {
        "messages": [
            {
                "role": "User",
                "content": [
                    {"type": "text", "text": "\n"},
                    {"type": "text", "text": " Describe "},
                    {"type": "text", "text": "this. "},
                ],
            },
            {"role": "Assistant", "content": "    def f():\n        return 1\n"},
        ]
    },
    {
        "messages": [
            {"role": "system", "content": "Be brief.  "},
            {"role": "user", "content": "Café?"},
            {"role": "assistant", "content": "Oui, un café."},
        ]
    },
]

FIXED = [
    {"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]},
    RECORDS[1],
    None,
    {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "text", "text": "this."}]},
            {"role": "assistant", "content": "    def f():\n        return 1"},
        ]
    },
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Café?"},
            {"role": "assistant", "content": "Oui, un café."},
        ]
    },
]


def _check(lines, original):
    assert len(lines) == len(RECORDS)
    assert lines[2] == BROKEN.encode("utf-8")  # the unparseable line, byte for byte
    assert lines[1] == original[1]  # an untouched record is not re-serialized
    for line, want in zip(lines, FIXED):
        if want is not None:
            assert json.loads(line) == want


def test_fix_to_output(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", RECORDS)
    original = (tmp_path / "train.jsonl").read_bytes().splitlines()
    result = run("fix", "train.jsonl", "--select", "F006,F010", "--output", "fixed.jsonl")
    assert result.exit_code == 0, result.output
    assert "F006: 2" in result.output and "F010: 3" in result.output
    _check((tmp_path / "fixed.jsonl").read_bytes().splitlines(), original)
    assert (tmp_path / "train.jsonl").read_bytes().splitlines() == original  # input untouched
    assert not (tmp_path / "fixed.rejects.jsonl").exists()
    again = run("lint", "fixed.jsonl", "--select", "F006,F010", "--no-progress")
    assert again.exit_code == 0 and "F006" not in again.output and "F010" not in again.output, again.output


def test_fix_in_place(run, tmp_path):
    write_jsonl(tmp_path / "train.jsonl", RECORDS)
    original = (tmp_path / "train.jsonl").read_bytes().splitlines()
    result = run("fix", "train.jsonl", "--select", "F006,F010", "--in-place")
    assert result.exit_code == 0, result.output
    _check((tmp_path / "train.jsonl").read_bytes().splitlines(), original)
    again = run("lint", "train.jsonl", "--select", "F006,F010", "--output-format", "json", "--no-progress")
    assert json.loads(again.output)["diagnostics"] == []


def test_sharegpt_aliases_use_the_record_spelling(run, tmp_path):
    records = [
        {
            "conversations": [
                {"from": "user", "value": "hi"},
                {"from": "bot", "value": "hello"},
                {"from": "Human", "value": "more"},
                {"from": "assistant", "value": "ok"},
            ]
        },
        {"conversations": [{"from": "USER", "value": "hi"}, {"from": "model", "value": "hello"}]},
    ]
    write_jsonl(tmp_path / "chat.jsonl", records)
    result = run("fix", "chat.jsonl", "--select", "F006", "--in-place")
    assert result.exit_code == 0, result.output
    roles = [
        [t["from"] for t in json.loads(line)["conversations"]]
        for line in (tmp_path / "chat.jsonl").read_text().splitlines()
    ]
    assert roles == [["user", "assistant", "user", "assistant"], ["human", "gpt"]]


def test_in_place_fix_keeps_file_permissions(tmp_path, monkeypatch):
    import os

    from click.testing import CliRunner

    from curate.cli import cli

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "train.jsonl"
    path.write_text('{"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    os.chmod(path, 0o644)
    assert CliRunner().invoke(cli, ["fix", "train.jsonl", "--in-place", "--select", "F006"]).exit_code == 0
    assert '"role": "user"' in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o644
