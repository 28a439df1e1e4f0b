"""The fused record scan: each record's text is read once to tell which triggered record rules can fire.

A record rule may declare a `Trigger`: what a record must hold for the rule to find anything
in it (a necessary condition, never a sufficient one). The engine gathers the triggers of the
planned rules into one `Scanner`; per conversation it builds the text once (every message's
text, tool-call arguments and top-level text fields, joined by newlines) and runs a rule only
when its trigger fires. Rules without a trigger run on every record of their stage, and a
trigger that cannot be decided (a record without a conversation) fires. Python's `re` is no
multi-pattern engine (an alternation of many patterns is tried pattern by pattern at every
position, slower than the substring tests), so literals are tested with `in`, and only what
literals cannot say is a regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curate.formats import FORMATS


@dataclass(frozen=True)
class Trigger:
    """What a record must hold for a rule to find anything; the rule runs when any part holds.

    `needles`: substrings of the record's text (case-sensitive). `folded`: lower-case substrings
    of the lower-cased text; a text with non-ASCII characters fires them (no case folding beyond
    ASCII is attempted). `pattern`: a regular expression searched in the text, for what
    substrings cannot say. `chars`: ASCII characters, any of which fires it, as does a text with
    non-ASCII characters (all are found in one pass). `non_ascii`: any non-ASCII character.
    `shape`: the conversation is not plain (see `plain`), for rules that judge structure rather
    than text.
    """

    needles: tuple[str, ...] = ()
    folded: tuple[str, ...] = ()
    pattern: str | None = None
    chars: str = ""
    non_ascii: bool = False
    shape: bool = False


def scan_text(record) -> str:
    """Every text a record rule reads: message texts, tool-call arguments, top-level text fields and parts."""
    parts = []
    for m in record.messages:
        parts.append(m.text)
        calls = m.tool_calls
        if isinstance(calls, list):
            for call in calls:
                fn = call.get("function") if isinstance(call, dict) else None
                args = fn.get("arguments") if isinstance(fn, dict) else None
                if isinstance(args, str):
                    parts.append(args)
    data, list_key = record.data, FORMATS[record.fmt].list_key
    for key, value in data.items():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list) and key != list_key:
            parts.extend(p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str))
    return "\n".join(parts)


_PLAIN_NEXT = {"system": "user", "user": "assistant", "assistant": "user"}  # the role that may follow


def plain(record) -> bool:
    """A message list of dict items only, roles known and canonical, system? (user assistant)+, every
    content a string with no leading or trailing whitespace, no `weight` key, no top-level system."""
    fmt = FORMATS[record.fmt]
    if fmt.list_key is None or (fmt.system_key and fmt.system_key in record.data):
        return False
    messages = record.messages
    if len(messages) != len(record.data[fmt.list_key]):
        return False
    expected, role = "system", ""
    for m in messages:
        role, text = m.role, m.content
        if (
            not m.known_role
            or m.alias
            or type(text) is not str
            or not text
            or text[0].isspace()
            or text[-1].isspace()
            or "weight" in m.raw
        ):
            return False
        if role != expected and not (expected == "system" and role == "user"):
            return False
        expected = _PLAIN_NEXT[role]
    return role == "assistant"


# ASCII characters from the rarest to the most common in English text: a needle is looked for only
# when its rarest character is in the text (a one-character test is a memchr).
_RARITY = "`~|^\\{}[]<>#_@$%&*+=;QZXJKVYUWOFBGPMHNRLDCESTAI0123456789:!?'\"()/-,.zqxjkvbpygfwmucldrhsnioate\t\r\n "


def _gate(needle: str) -> str:
    """The needle's rarest character: non-ASCII first, then by `_RARITY`."""
    return min(needle, key=lambda c: _RARITY.find(c) if c in _RARITY else -1)


def _groups(needles: dict[str, set]) -> list[tuple[str, list[tuple[str, frozenset]]]]:
    """(gate character, [(needle, the codes it fires)]) with the rarest gates first."""
    groups: dict[str, list] = {}
    for needle, codes in needles.items():
        groups.setdefault(_gate(needle), []).append((needle, frozenset(codes)))
    return sorted(groups.items(), key=lambda kv: _RARITY.find(kv[0]))


class Scanner:
    """The triggers of a run's record rules, tested together on each conversation: every distinct
    needle, gate character and pattern once per record, whichever rules share it."""

    def __init__(self, triggers: dict[str, Trigger]):
        self.codes = frozenset(triggers)
        needles: dict[str, set] = {}
        folded: dict[str, set] = {}
        patterns: dict[str, set] = {}
        for code, t in triggers.items():
            for needle in t.needles:
                needles.setdefault(needle, set()).add(code)
            for needle in t.folded:
                folded.setdefault(needle, set()).add(code)
            if t.pattern:
                patterns.setdefault(t.pattern, set()).add(code)
        self._needles = _groups(needles)
        self._folded = _groups(folded)
        self._patterns = [(frozenset(codes), re.compile(p).search) for p, codes in patterns.items()]
        self._non_ascii = frozenset(c for c, t in triggers.items() if t.non_ascii or t.folded or t.chars)
        chars: dict[int, set] = {}
        for code, t in triggers.items():
            for char in t.chars.encode("ascii"):
                chars.setdefault(char, set()).add(code)
        self._chars = {char: frozenset(codes) for char, codes in chars.items()}
        self._not_chars = bytes(sorted(set(range(256)) - set(chars)))
        self._shape = frozenset(c for c, t in triggers.items() if t.shape)

    def fired(self, record) -> frozenset[str] | set[str]:
        """The codes whose trigger fires on `record` (all of them when it has no conversation)."""
        if record.messages is None:
            return self.codes
        text = scan_text(record)
        fired: set[str] = set()
        ascii_ = text.isascii()
        if not ascii_:
            fired |= self._non_ascii
        if self._shape and not plain(record):
            fired |= self._shape
        _find(text, self._needles, fired)
        if ascii_ and self._folded:
            _find(text.lower(), self._folded, fired)
        if ascii_ and self._chars:
            for char in set(text.encode("ascii").translate(None, self._not_chars)):
                fired |= self._chars[char]
        for codes, search in self._patterns:
            if not codes <= fired and search(text):
                fired |= codes
        return fired


def _find(text: str, groups, fired: set) -> None:
    for gate, needles in groups:
        if gate in text:
            for needle, codes in needles:
                if not codes <= fired and needle in text:
                    fired |= codes
