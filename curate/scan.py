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
    substrings cannot say. `non_ascii`: any non-ASCII character. `shape`: the conversation is not
    plain (see `plain`), for rules that judge structure rather than text.
    """

    needles: tuple[str, ...] = ()
    folded: tuple[str, ...] = ()
    pattern: str | None = None
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
        if not m.known_role or m.alias or type(text) is not str or not text or text[0].isspace() \
                or text[-1].isspace() or "weight" in m.raw:
            return False
        if role != expected and not (expected == "system" and role == "user"):
            return False
        expected = _PLAIN_NEXT[role]
    return role == "assistant"


class Scanner:
    """The triggers of a run's record rules, tested together on each conversation."""

    def __init__(self, triggers: dict[str, Trigger]):
        self.codes = list(triggers)
        self._tests = [_compile(t) for t in triggers.values()]
        self._lower = any(t.folded for t in triggers.values())
        self._shape = any(t.shape for t in triggers.values())

    def fired(self, record) -> set[str]:
        """The codes whose trigger fires on `record` (all of them when it has no conversation)."""
        if record.messages is None:
            return set(self.codes)
        text = scan_text(record)
        ascii_ = text.isascii()
        view = (text, ascii_, text.lower() if self._lower and ascii_ else "", self._shape and not plain(record))
        return {code for code, test in zip(self.codes, self._tests) if test(view)}


def _compile(t: Trigger):
    """A test of one trigger on a view (text, is ASCII, lower-cased text when ASCII, not plain)."""
    needles, folded, shape, non_ascii = t.needles, t.folded, t.shape, t.non_ascii
    search = re.compile(t.pattern).search if t.pattern else None

    def test(view) -> bool:
        text, ascii_, lower, irregular = view
        return bool((shape and irregular) or (non_ascii and not ascii_)
                    or (needles and any(map(text.__contains__, needles)))
                    or (folded and (not ascii_ or any(map(lower.__contains__, folded))))
                    or (search and search(text)))

    return test
