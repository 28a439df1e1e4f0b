"""The fused scan skips a rule only where it cannot fire: gated and ungated runs find the same."""

from __future__ import annotations

import copy
import json
import os
import random

import pytest

from curate import parse as parse_module
from curate.config import Config
from curate.engine import RuleContext, _stage
from curate.formats import detect
from curate.parse import parse
from curate.records import Record
from curate.registry import load_rules
from curate.scan import Scanner, Trigger, plain

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
RULES = load_rules()
RECORD_RULES = [
    (code, rule, RuleContext(Config().options_for(code))) for code, rule in RULES.items() if rule.kind == "record"
]
SCANNER = Scanner({code: rule.trigger for code, rule, _ in RECORD_RULES if rule.trigger is not None})


def _record(raw: bytes) -> Record:
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    return parse(Record("t.jsonl", 1, "train", raw, fmt=(detect(data) if isinstance(data, dict) else None) or "openai"))


def _fixture_lines() -> list[bytes]:
    lines = []
    for folder, _, names in os.walk(FIXTURES):
        for name in names:
            if name.endswith(".jsonl"):
                with open(os.path.join(folder, name), "rb") as f:
                    lines += [line.rstrip(b"\n") for line in f if line.strip()]
    return lines


ALPACA_VALUES = ["", " ", "\n", None, 7, ["x"], [{"type": "text", "text": "x"}], "x ", " x", "x"]


def _variant(rng: random.Random, data):
    """The record with one message's content split into text parts, padded, or its role changed; an
    alpaca record with one field removed or replaced by an empty, padded or non-string value."""
    data = copy.deepcopy(data)
    if isinstance(data, dict) and ("instruction" in data or "output" in data):
        key = rng.choice(["instruction", "input", "output", "system"])
        if rng.random() < 0.2:
            data.pop(key, None)
        else:
            data[key] = rng.choice(ALPACA_VALUES)
        return data
    items = (data.get("messages") or data.get("conversations")) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return data
    item = rng.choice([i for i in items if isinstance(i, dict)])
    key = "content" if "content" in item else "value"
    text = item.get(key)
    how = rng.randrange(3)
    if how == 0 and isinstance(text, str) and len(text) > 2:
        cut = rng.randrange(1, len(text))
        item[key] = [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]
    elif how == 1 and isinstance(text, str):
        item[key] = rng.choice([" ", "\n", ""]) + text + rng.choice(["", " "])
    else:
        item["role" if "role" in item else "from"] = rng.choice(["user", "assistant", "system", "tool", "gpt", "User"])
    return data


def _lines() -> list[bytes]:
    lines = _fixture_lines()
    rng = random.Random(7)
    for raw in list(lines):
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        lines += [json.dumps(_variant(rng, data), ensure_ascii=bool(i % 2)).encode() for i in range(3)]
    return lines


@pytest.mark.parametrize("engine", ["python", "hyperscan"])
def test_gated_rules_find_what_every_rule_finds(engine):
    scanner = Scanner({code: rule.trigger for code, rule, _ in RECORD_RULES if rule.trigger is not None}, engine)
    assert scanner._match.engine == engine
    skipped = 0
    for raw in _lines():
        rec = _record(raw)
        stage = _stage(rec)
        fired = scanner.fired(rec) if len(stage) == 3 else None
        for code, rule, ctx in RECORD_RULES:
            if rule.requires in stage and rule.trigger is not None and fired is not None and code not in fired:
                skipped += 1
                assert not list(rule.impl(rec, ctx) or ()), (code, raw)
    assert skipped > 1000  # the scan does skip rules


def _conv(*turns, **extra) -> Record:
    messages = [{"role": role, "content": text} for role, text in turns]
    return _record(json.dumps({"messages": messages, **extra}).encode())


def test_a_plain_conversation_fires_no_structural_rule():
    rec = _conv(("system", "Be brief."), ("user", "Hi there"), ("assistant", "Hello."))
    assert plain(rec)
    assert not SCANNER.fired(rec) & {
        "R001",
        "R002",
        "R003",
        "R004",
        "R005",
        "R006",
        "F005",
        "F006",
        "F008",
        "F009",
        "F010",
    }


@pytest.mark.parametrize(
    "turns",
    [
        [("system", "Be brief.")],  # no assistant
        [("user", "Hi"), ("user", "Hi?"), ("assistant", "Hello.")],
        [("user", "Hi"), ("assistant", "Hello."), ("user", "Thanks")],
        [("assistant", "Hello."), ("user", "Hi")],
        [("user", "Hi"), ("tool", "42"), ("assistant", "Hello.")],
        [("user", " Hi"), ("assistant", "Hello.")],
        [("user", "Hi"), ("assistant", "")],
        [("human", "Hi"), ("assistant", "Hello.")],
        [("narrator", "Hi"), ("assistant", "Hello.")],
    ],
)
def test_an_irregular_conversation_fires_the_structural_rules(turns):
    rec = _conv(*turns)
    assert not plain(rec)
    assert {"R001", "F009", "F010"} <= SCANNER.fired(rec)


SHAPE_CODES = {"F005", "F006", "F008", "F009", "F010", "R001", "R002", "R003", "R004", "R005", "R006"}


@pytest.mark.parametrize(
    "record",
    [
        {"instruction": "Add 2 and 2.", "input": "", "output": "4"},
        {"instruction": "Add.", "input": "2 and 2", "output": "4", "system": "Be brief."},
        {"instruction": "Add 2 and 2.", "output": "4", "history": [["hi", "hello"]]},
    ],
)
def test_a_plain_alpaca_record_fires_no_structural_rule(record):
    rec = _record(json.dumps(record).encode())
    assert plain(rec)
    assert not SCANNER.fired(rec) & SHAPE_CODES


@pytest.mark.parametrize(
    "record",
    [
        {"instruction": "Add.", "input": "", "output": " 4"},
        {"instruction": "Add.", "input": "", "output": ""},
        {"instruction": "Add.", "input": " "},
        {"instruction": "", "input": "2 and 2", "output": "4"},
        {"instruction": "Add.", "input": 2, "output": "4"},
        {"instruction": "Add.", "input": None, "output": "4"},
        {"instruction": "Add.", "output": "4", "system": "\n"},
        {"instruction": [{"type": "text", "text": "Add."}], "output": "4"},
    ],
)
def test_an_irregular_alpaca_record_fires_the_structural_rules(record):
    rec = _record(json.dumps(record).encode())
    assert not plain(rec)
    assert SCANNER.fired(rec) >= SHAPE_CODES


def test_needles_folded_needles_characters_and_patterns_fire():
    scanner = Scanner(
        {
            "N": Trigger(("sk-",)),
            "L": Trigger(folded=("continued",)),
            "C": Trigger(chars="\x07"),
            "P": Trigger(pattern=r"[0-9]{3}-[0-9]{4}"),
            "A": Trigger(non_ascii=True),
        }
    )
    assert scanner.fired(_conv(("user", "key sk-1"), ("assistant", "ok"))) == {"N"}
    assert scanner.fired(_conv(("user", "To be CONTINUED"), ("assistant", "ok"))) == {"L"}
    assert scanner.fired(_conv(("user", "bell \x07"), ("assistant", "ok"))) == {"C"}
    assert scanner.fired(_conv(("user", "call 555-1234"), ("assistant", "ok"))) == {"P"}
    # non-ASCII text fires folded needles and characters too: they are decided on ASCII text only
    assert scanner.fired(_conv(("user", "café"), ("assistant", "ok"))) == {"L", "C", "A"}
    assert scanner.fired(_conv(("user", "plain words"), ("assistant", "ok"))) == set()


def test_tool_call_arguments_and_top_level_fields_are_scanned():
    scanner = Scanner({"N": Trigger(("sk-",))})
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"k\": \"sk-1\"}"}}],
    }
    rec = _record(json.dumps({"messages": [{"role": "user", "content": "hi"}, call]}).encode())
    assert scanner.fired(rec) == {"N"}
    alpaca = _record(json.dumps({"instruction": 1, "input": "sk-1", "output": "ok"}).encode())
    assert scanner.fired(alpaca) == {"N"}


@pytest.mark.parametrize("raw", [b'{"s": "caf\xe9"}', b'\xef\xbb\xbf{"a": 1}', b'{"a": "x\x00y"}', b'\xff'])
def test_bytes_the_fast_path_cannot_read_go_the_decoding_path(raw, monkeypatch):
    fast = parse(Record("t.jsonl", 1, "train", raw, fmt="openai"))
    monkeypatch.setattr(parse_module, "orjson", None)
    slow = parse(Record("t.jsonl", 1, "train", raw, fmt="openai"))
    assert (fast.data, fast.error, fast.encoding_issue) == (slow.data, slow.error, slow.encoding_issue)
    assert fast.encoding_issue
