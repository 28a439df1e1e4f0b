"""The orjson fast path parses every record exactly as the stdlib path: values, errors, repeated keys."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import parse as parse_module
from curate.parse import parse
from curate.records import Record

pytest.importorskip("orjson")

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "rules")

TRICKY = [
    b'{"messages": [{"role": "user", "content": "hi"}]}',
    b'{"a": 1, "a": 2}',
    b'{"a" : 1, "a": 2}',
    b'{"a":1,"a" :2,"x":3}',
    b'{"a":1,"b\\":":2}',
    b'{"x": "\\":\\":", "a": 1, "a": 2}',
    b'{"n": 123456789012345678901234567890}',
    b'{"n": -9223372036854775809, "m": 18446744073709551615}',
    b'{"f": 1e400}',
    b'{"f": 1.5, "g": -0.0, "h": 9.3e18}',
    b'{"s": "\\ud800"}',
    b'{"v": NaN}',
    b'[1, 2,]',
    b'{"a": 1} x',
    b'"just a string"',
    b'[]',
    b'{}',
    b'{"a": {"b": {"b": 1, "b": 2}}, "c": [{"d": 1, "d": 1}]}',
    b'{"a/b": {"~": 1, "~": 2}}',
    b'[' * 2000 + b']' * 2000,
    b'{"a":' * 1100 + b'1' + b'}' * 1100,
    b'{\n"a"\n:\n1,\n"a":2}',
    b'{"a":1,\t"a"\t:2}',
]


def _both(raw: bytes, monkeypatch) -> tuple:
    fast = parse(Record("t.jsonl", 1, "train", raw, fmt="openai"))
    with monkeypatch.context() as m:
        m.setattr(parse_module, "orjson", None)
        slow = parse(Record("t.jsonl", 1, "train", raw, fmt="openai"))
    return (
        (fast.data, fast.error, fast.duplicate_keys, fast.messages),
        (slow.data, slow.error, slow.duplicate_keys, slow.messages),
    )


def _same(a, b) -> bool:
    # NaN and inf compare through their JSON text; everything else by value and type
    return json.dumps(a, default=repr) == json.dumps(b, default=repr) and repr(a) == repr(b)


@pytest.mark.parametrize("raw", TRICKY)
def test_tricky_lines_parse_alike(raw, monkeypatch):
    fast, slow = _both(raw, monkeypatch)
    assert _same(fast, slow)


def test_f012_fixture_lines_parse_alike(monkeypatch):
    found = 0
    for code in os.listdir(FIXTURES):
        folder = os.path.join(FIXTURES, code)
        for name in os.listdir(folder):
            if name.endswith(".jsonl"):
                with open(os.path.join(folder, name), "rb") as f:
                    for raw in f:
                        fast, slow = _both(raw.rstrip(b"\n"), monkeypatch)
                        assert _same(fast, slow), raw
                        found += bool(fast[2])
    assert found >= 3  # the F012 fixture's repeated keys were seen


def test_repeated_key_is_named_on_the_fast_path():
    rec = parse(Record("t.jsonl", 1, "train", b'{"messages": [], "x": {"a" :1, "a": 2}}', fmt="openai"))
    assert rec.duplicate_keys == [("/x", "a")]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.lists(st.tuples(st.sampled_from(["a", "b", 'c"', "a:"]), inner), max_size=4)
    ),
    max_leaves=12,
)


def _text(value, spaced: bool) -> str:
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        sep = '" :' if spaced else '":'
        return "{" + ",".join(json.dumps(k)[:-1] + sep + _text(v, spaced) for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_text(v, spaced) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=300, deadline=None)
@given(_json, st.booleans())
def test_generated_objects_with_repeats_parse_alike(value, spaced):
    raw = _text(value, spaced).encode()
    mp = pytest.MonkeyPatch()
    try:
        fast, slow = _both(raw, mp)
    finally:
        mp.undo()
    assert _same(fast, slow)
