"""Bad input is a diagnostic or one clear error, never a traceback; every line is accounted for."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.config import Config
from curate.engine import lint_paths
from curate.errors import CurateError

OK = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}'


def _codes_by_line(result):
    out = {}
    for d in result.diagnostics:
        out.setdefault(d.line, set()).add(d.code)
    return out


def test_hostile_lines(tmp_path):
    lines = [
        OK,
        b"\xef\xbb\xbf" + OK,  # BOM
        OK.replace(b"hello", b"hel\x00lo"),  # NUL
        OK.replace(b"hello", b"h\xe9llo"),  # Latin-1 byte
        b"[" * 100_000 + b"]" * 100_000,  # deeply nested
        b'{"messages": NaN}',  # NaN
        bytes(b for b in range(256) if b != 10),  # binary
        b'{"messages": [{"role": "user", "content": "' + b"x" * (50 << 20) + b'"}]}',  # a 50 MB line
    ]
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = lint_paths([str(path)], Config(select=["F001", "F002", "F003"], max_record_bytes=64 << 20))
    codes = _codes_by_line(result)
    assert result.records == len(lines)
    assert 1 not in codes
    assert codes[2] == codes[3] == codes[4] == {"F002"}  # decoded with U+FFFD, still valid JSON
    assert codes[5] == {"F001"}  # too deeply nested for any JSON reader
    assert codes[6] == {"F001"}
    assert "F001" in codes[7] and "F002" in codes[7]
    assert 8 not in codes


def test_empty_file_and_gzip(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with gzip.open(tmp_path / "data.jsonl.gz", "wb") as f:
        f.write(OK + b"\n{broken\n")
    result = lint_paths([str(tmp_path / "empty.jsonl"), str(tmp_path / "data.jsonl.gz")], Config(select=["F"]))
    assert [f.records for f in result.files] == [0, 2]
    assert [(d.path.endswith(".gz"), d.line, d.code) for d in result.diagnostics] == [(True, 2, "F001")]


@pytest.mark.parametrize("body", [b"garbage", b"\x00" * 6 + b"\xff" * 50], ids=["truncated", "invalid-block"])
def test_corrupt_gzip_is_an_error(tmp_path, run, body):
    (tmp_path / "data.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00" + body)
    result = run("lint", "data.jsonl.gz")
    assert result.exit_code == 2 and result.output.startswith("error: data.jsonl.gz: cannot read")


def test_json_array_file_lines(tmp_path):
    (tmp_path / "data.json").write_text('[\n  {"messages": []},\n\n  [1],\n  {"a":\n   1}\n]\n')
    result = lint_paths([str(tmp_path / "data.json")], Config(select=["F003"]))
    assert result.records == 3
    assert [(d.line, d.code) for d in result.diagnostics] == [(4, "F003")]


def test_broken_json_array(tmp_path):
    (tmp_path / "data.json").write_text('[\n {"messages": []},\n {"a": oops}\n]\n')
    result = lint_paths([str(tmp_path / "data.json")], Config(select=["F001"]))
    assert [(d.line, d.code) for d in result.diagnostics] == [(3, "F001")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "messages",
                    "role",
                    "content",
                    "conversations",
                    "from",
                    "value",
                    "instruction",
                    "output",
                    "weight",
                    "tool_calls",
                    "tool_call_id",
                    "name",
                    "tools",
                    "type",
                    "text",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "user", "assistant", "tool", "human", "gpt", "x", 3]),
            "content": st.one_of(
                st.text(), st.none(), st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text()}))
            ),
        }
    ),
    max_size=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=200),
            json_values.map(lambda v: json.dumps(v).encode()),
            messages.map(lambda m: json.dumps({"messages": m}).encode()),
        ),
        max_size=8,
    )
)
def test_arbitrary_input_never_crashes(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("h") / "train.jsonl"
    lines = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    path.write_bytes(b"\n".join(lines) + b"\n")
    try:
        result = lint_paths([str(path)])
    except CurateError as exc:  # mostly NUL or undecodable bytes: refused as binary, never linted as text
        # binary data, a binary format's magic number, or a compressed stream that does not decompress:
        # one error line naming the file, never a traceback
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        assert "unsupported file format (" in str(exc) or "cannot read" in str(exc)
        return
    nonblank = [i for i, line in enumerate(lines, 1) if line.strip()]
    assert result.records == len(nonblank)
    assert {d.line for d in result.diagnostics if d.path == str(path)} <= set(nonblank) | {1}
