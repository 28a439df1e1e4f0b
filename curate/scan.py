"""The fused record scan: each record's text is read once to tell which triggered record rules can fire.

A record rule may declare a `Trigger`: what a record must hold for the rule to find anything
in it (a necessary condition, never a sufficient one). The engine gathers the triggers of the
planned rules into one `Scanner`; per conversation it builds the text once (every message's
text, tool-call arguments and top-level text fields, joined by newlines) and runs a rule only
when its trigger fires. Rules without a trigger run on every record of their stage, and a
trigger that cannot be decided (a record without a conversation) fires. Every needle, character
and pattern of the run is looked for in one `MultiMatch` (curate/multimatch.py): one Hyperscan
pass over the text where it is installed, substring tests otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.formats import FORMATS
from curate.multimatch import MultiMatch, by_item


@dataclass(frozen=True)
class Trigger:
    """What a record must hold for a rule to find anything; the rule runs when any part holds.

    `needles`: substrings of the record's text (case-sensitive). `folded`: lower-case substrings
    of the lower-cased text; a text with non-ASCII characters fires them (no case folding beyond
    ASCII is attempted). `pattern`: a regular expression searched in the text, for what
    substrings cannot say; it must be portable (ASCII literals and classes, see `check_portable`
    in curate/multimatch.py). `chars`: ASCII characters, any of which fires it, as does a text
    with non-ASCII characters (all are found in one pass). `non_ascii`: any non-ASCII character.
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


def _trimmed(text) -> bool:
    """A non-empty string without leading or trailing whitespace."""
    return type(text) is str and text != "" and not text[0].isspace() and not text[-1].isspace()


def plain(record) -> bool:
    """A message list of dict items only, roles known and canonical, system? (user assistant)+, every
    content a string with no leading or trailing whitespace, no `weight` key, no top-level system.
    Alpaca-style: prompt and response such strings, input and system absent, empty or such strings."""
    fmt = FORMATS[record.fmt]
    data = record.data
    if fmt.list_key is None:
        return (
            _trimmed(data.get(fmt.prompt_key))
            and _trimmed(data.get(fmt.response_key))
            and all(
                key not in data or data[key] == "" or _trimmed(data[key])
                for key in (fmt.input_key, fmt.system_key)
                if key
            )
        )
    if fmt.system_key and fmt.system_key in data:
        return False
    messages = record.messages
    if len(messages) != len(data[fmt.list_key]):
        return False
    expected, role = "system", ""
    for m in messages:
        role, text = m.role, m.content
        if not m.known_role or m.alias or not _trimmed(text) or "weight" in m.raw:
            return False
        if role != expected and not (expected == "system" and role == "user"):
            return False
        expected = _PLAIN_NEXT[role]
    return role == "assistant"


class Scanner:
    """The triggers of a run's record rules, tested together on each conversation: every distinct
    needle, character and pattern once per record, whichever rules share it. `engine`: see `MultiMatch`."""

    def __init__(self, triggers: dict[str, Trigger], engine: str = "auto"):
        self.codes = frozenset(triggers)
        items = triggers.items()
        self._match = MultiMatch(
            by_item((code, t.needles) for code, t in items),
            by_item((code, t.folded) for code, t in items),
            by_item((code, t.chars) for code, t in items),
            by_item((code, (t.pattern,) if t.pattern else ()) for code, t in items),
            engine,
        )
        self._non_ascii = frozenset(c for c, t in items if t.non_ascii or t.folded or t.chars)
        self._shape = frozenset(c for c, t in items if t.shape)

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
        self._match.find(text, ascii_, fired)
        return fired
