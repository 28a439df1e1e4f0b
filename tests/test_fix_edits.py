"""`curate fix` edits bytes: only the fixed values change, every other byte stays, records are
removed by their exact spans (JSON arrays included), and what cannot be edited exactly is left alone."""

from __future__ import annotations

import base64
import gzip
import json

from curate.config import Config
from curate.engine import lint_paths

CLEAN = b'{"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]}'


def conv_bytes(user: str, assistant: str = "ok") -> bytes:
    return json.dumps(
        {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}
    ).encode()


def test_a_fix_changes_only_the_bytes_of_the_value(run, tmp_path):
    odd = (
        b'{"n" :  1e999, "big": 123456789012345678901234567890123, "messages":[{"content":"caf\\u00e9 \\/ ok \\n",'
        b' "role":"human"},{"role": "assistant","content":"\\ud83d\\ude00 fine"}]}   '
    )
    (tmp_path / "train.jsonl").write_bytes(b"\r\n" + odd + b"\r\n\r\n" + CLEAN + b"\r\n")
    result = run("fix", "train.jsonl", "--select", "F006,F010", "-o", "out.jsonl")
    assert result.exit_code == 0, result.output
    want = odd.replace(b'"caf\\u00e9 \\/ ok \\n"', b'"caf\\u00e9 \\/ ok"').replace(b'"human"', b'"user"')
    assert (tmp_path / "out.jsonl").read_bytes() == b"\r\n" + want + b"\r\n\r\n" + CLEAN + b"\r\n"
    again = run("lint", "out.jsonl", "--select", "F001,F006,F010", "--no-progress")
    assert again.exit_code == 0, again.output


def test_text_parts_emptied_by_the_cut_are_deleted_as_elements(run, tmp_path):
    record = (
        b'{"messages": [{"role": "user", "content": [ {"type": "text", "text": "\\n"} ,'
        b'  {"type":"text","text":" Describe "}, {"type": "text", "text": "this. "} ]},'
        b' {"role": "assistant", "content": "ok"}]}'
    )
    (tmp_path / "train.jsonl").write_bytes(record + b"\n")
    assert run("fix", "train.jsonl", "--select", "F010", "--in-place").exit_code == 0
    assert (tmp_path / "train.jsonl").read_bytes() == (
        b'{"messages": [{"role": "user", "content": [ {"type":"text","text":"Describe "}, '
        b'{"type": "text", "text": "this."} ]}, {"role": "assistant", "content": "ok"}]}\n'
    )


def test_untouched_records_blank_lines_and_crlf_stay_byte_for_byte(run, tmp_path):
    data = b"\n" + CLEAN + b"\r\n\r\n  \n" + conv_bytes(" hi") + b"\r\n" + CLEAN.replace(b"Blue", b"Red") + b"  \t"
    (tmp_path / "train.jsonl").write_bytes(data)
    assert run("fix", "train.jsonl", "--select", "F010", "--in-place").exit_code == 0
    assert (tmp_path / "train.jsonl").read_bytes() == data.replace(b'" hi"', b'"hi"')


def test_records_that_cannot_be_edited_exactly_are_reported_and_left_alone(run, tmp_path):
    bad_utf8 = b'{"messages": [{"role": "user", "content": " caf\xe9"}, {"role": "assistant", "content": "ok"}]}'
    bom = b"\xef\xbb\xbf" + conv_bytes(" with a BOM")
    nul = conv_bytes(" with a NUL").replace(b"NUL", b"N\x00L")
    repeated = b'{"messages": [{"role": "gpt", "content": " a"}], "messages": [{"role": "user", "content": " b"}]}'
    lines = [bad_utf8, bom, nul, repeated, conv_bytes(" fixable")]
    (tmp_path / "train.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = run("fix", "train.jsonl", "--select", "F006,F010", "-o", "out.jsonl")
    assert result.exit_code == 0, result.output
    out = (tmp_path / "out.jsonl").read_bytes().split(b"\n")
    assert out[:4] == lines[:4] and out[4] == conv_bytes("fixable")
    assert "train.jsonl:1: not fixed: invalid encoding (invalid UTF-8" in result.output
    assert "train.jsonl:2: not fixed: invalid encoding (byte order mark" in result.output
    assert "train.jsonl:3: not fixed: invalid encoding (NUL byte" in result.output
    assert 'train.jsonl:4: not fixed: duplicate key "messages"' in result.output
    assert "kept 5 (1 changed)" in result.output


def test_records_differing_only_in_bad_bytes_are_not_merged(run, tmp_path):
    def latin(word: bytes) -> bytes:
        return b'{"messages": [{"role": "user", "content": "' + word + b'"}, {"role": "assistant", "content": "ok"}]}'

    lines = [latin(b"caf\xe9"), latin(b"caf\xe8"), latin(b"caf\xe9"), latin(b"caf\xef\xbf\xbd")]
    (tmp_path / "train.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    lint = run("lint", "train.jsonl", "--select", "D001", "--no-progress")
    assert lint.output.count("D001") == 3  # the lint sees four equal texts
    result = run("fix", "train.jsonl", "--select", "D001", "-o", "out.jsonl")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.jsonl").read_bytes() == b"\n".join([lines[0], lines[1], lines[3]]) + b"\n"
    assert "train.jsonl:2: not removed (D001)" in result.output
    assert "train.jsonl:4: not removed (D001)" in result.output
    [reject] = [json.loads(line) for line in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert reject["line"] == 3 and base64.b64decode(reject["record_base64"]) == lines[2]


def test_minified_array_removal_is_keyed_on_elements(run, tmp_path):
    a, b, c = conv_bytes("first question"), conv_bytes("second question"), conv_bytes("third question")
    (tmp_path / "data.json").write_bytes(b"[" + b",".join([a, b, c, a]) + b"]")
    result = run("fix", "data.json", "--select", "D001", "--in-place")
    assert result.exit_code == 0, result.output
    assert "removed 1" in result.output
    assert (tmp_path / "data.json").read_bytes() == b"[" + b",".join([a, b, c]) + b"]"
    [reject] = [json.loads(line) for line in (tmp_path / "data.rejects.jsonl").read_text().splitlines()]
    assert (reject["line"], reject["element"], reject["record"]) == (1, 4, a.decode())


def test_pretty_array_removal_deletes_the_element_and_one_comma(run, tmp_path):
    a, b, c = conv_bytes("first question"), conv_bytes("second question"), conv_bytes("third question")
    (tmp_path / "data.json").write_bytes(b"[\n  " + b",\n  ".join([a, b, a, c, b]) + b"\n]\n")
    result = run("fix", "data.json", "--select", "D001", "-o", "out.json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.json").read_bytes() == b"[\n  " + b",\n  ".join([a, b, c]) + b"\n]\n"


def test_one_malformed_array_element_is_one_f001_and_fix_refuses(run, tmp_path):
    elements = [conv_bytes(f"question {i}") for i in range(1001)]
    elements[500] = b'{"messages": oops}'
    data = b"[\n" + b",\n".join(elements) + b"\n]\n"
    (tmp_path / "data.json").write_bytes(data)
    result = lint_paths([str(tmp_path / "data.json")], Config(select=["F001"]))
    assert result.records == 1001
    assert [(d.line, d.code) for d in result.diagnostics] == [(502, "F001")]
    fixed = run("fix", "data.json", "--in-place")
    assert fixed.exit_code == 2
    assert (
        fixed.output.startswith("error: data.json: cannot be split into records exactly")
        and fixed.output.count("\n") == 1
    )
    assert (tmp_path / "data.json").read_bytes() == data


def test_array_followed_by_json_lines_is_linted_whole_and_refused_by_fix(run, tmp_path):
    data = (
        b"["
        + conv_bytes("a")
        + b",\n"
        + conv_bytes("b")
        + b",\n"
        + conv_bytes(" c")
        + b"]\n"
        + conv_bytes(" d")
        + b"\n"
        + conv_bytes("e")
        + b"\n"
    )
    (tmp_path / "data.json").write_bytes(data)
    result = lint_paths([str(tmp_path / "data.json")], Config(select=["F010"]))
    assert result.records == 5
    assert [d.line for d in result.diagnostics] == [3, 4]
    fixed = run("fix", "data.json", "--in-place")
    assert fixed.exit_code == 2 and "JSON lines follow the JSON array at line 4" in fixed.output
    assert (tmp_path / "data.json").read_bytes() == data


def test_a_metadata_json_object_is_never_rewritten(run, tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "train.jsonl").write_bytes(conv_bytes(" hi") + b"\n")
    meta = b'{\n  "name": "my dataset",\n  "version": 2\n}\n'
    (tmp_path / "ds" / "info.json").write_bytes(meta)
    named = run("fix", "ds/info.json", "--in-place")  # named: refused
    assert named.exit_code == 2 and named.output.startswith("error: ds/info.json: cannot be split")
    assert (tmp_path / "ds" / "train.jsonl").read_bytes() == conv_bytes(" hi") + b"\n"
    fixed = run("fix", "ds", "--in-place")  # found in a folder: one document, not data, so not read
    assert fixed.exit_code == 0, fixed.output
    assert (tmp_path / "ds" / "info.json").read_bytes() == meta
    assert (tmp_path / "ds" / "train.jsonl").read_bytes() == conv_bytes("hi") + b"\n"


def test_gzip_round_trip_keeps_the_uncompressed_bytes(run, tmp_path):
    data = CLEAN + b"\r\n\n" + conv_bytes("x ") + b"\r\n"
    with gzip.open(tmp_path / "train.jsonl.gz", "wb") as f:
        f.write(data)
    assert run("fix", "train.jsonl.gz", "--in-place", "--select", "F010").exit_code == 0
    assert gzip.decompress((tmp_path / "train.jsonl.gz").read_bytes()) == data.replace(b'"x "', b'"x"')


def test_diff_shows_the_changes_and_writes_nothing(run, tmp_path):
    data = CLEAN + b"\n" + conv_bytes(" hi") + b"\n" + CLEAN + b"\n"
    (tmp_path / "train.jsonl").write_bytes(data)
    result = run("fix", "train.jsonl", "--diff")
    assert result.exit_code == 1, result.output
    assert "--- train.jsonl\n+++ train.jsonl\n" in result.output
    lines = result.output.splitlines()
    assert "-" + conv_bytes(" hi").decode() in lines and "+" + conv_bytes("hi").decode() in lines
    assert "-" + CLEAN.decode() in lines and " " + CLEAN.decode() in lines  # the duplicate goes, the first stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl"]
    assert (tmp_path / "train.jsonl").read_bytes() == data


def test_diff_exits_0_when_nothing_would_change(run, tmp_path):
    (tmp_path / "train.jsonl").write_bytes(CLEAN + b"\n")
    result = run("fix", "train.jsonl", "--diff")
    assert result.exit_code == 0, result.output
    assert "---" not in result.output and sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl"]


def test_duplicate_key_rule_names_key_and_object(tmp_path):
    (tmp_path / "t.jsonl").write_bytes(b'{"messages": [{"role": "user", "role": "user", "content": "x"}]}\n')
    [d] = lint_paths([str(tmp_path / "t.jsonl")], Config(select=["F012"])).diagnostics
    assert (d.line, d.pointer) == (1, "/messages/0/role")
    assert d.message == 'key "role" appears more than once in the object at /messages/0'


def test_a_file_changed_after_the_lint_is_not_written(run, tmp_path, monkeypatch):
    import curate.fixer

    lines = [CLEAN, conv_bytes("other"), CLEAN]
    (tmp_path / "train.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    lint = curate.fixer.lint_paths

    def lint_then_edit(*args, **kwargs):
        result = lint(*args, **kwargs)
        (tmp_path / "train.jsonl").write_bytes(b"\n".join([conv_bytes("new first")] + lines) + b"\n")
        return result

    monkeypatch.setattr(curate.fixer, "lint_paths", lint_then_edit)
    result = run("fix", "train.jsonl", "--in-place")
    assert result.exit_code == 2 and "changed while being fixed" in result.output
    assert (tmp_path / "train.jsonl").read_bytes() == b"\n".join([conv_bytes("new first")] + lines) + b"\n"
    assert not (tmp_path / "train.rejects.jsonl").exists()
