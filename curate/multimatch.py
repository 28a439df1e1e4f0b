"""Which of many literals and simple patterns a text holds, found in one pass over it.

The fused record scan (curate/scan.py) asks this of every conversation. Where the `hyperscan`
package (a multi-pattern regular-expression engine) is installed, one database of every literal
and pattern reads the text's UTF-8 bytes once. Without it, each literal is tested with `in`,
gated by its rarest character, and each pattern with `re`. Both give the same answer:

- a literal occurs in the UTF-8 bytes of a text exactly where it occurs in the text (UTF-8 is
  self-synchronizing; lone surrogates are encoded with `surrogatepass`, as non-ASCII bytes);
- caseless literals and characters are only asked of ASCII text, where ASCII case folding is
  `str.lower`;
- a pattern must be *portable* (`check_portable`): its atoms match ASCII characters only, so it
  matches ASCII bytes exactly where `re` matches the same characters.

The database is compiled once per process (about 70 ms), and only after the process has scanned
`COMPILE_AFTER` texts, so that linting a small file does not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Codes = frozenset[str]

# Texts a process scans before it compiles the database: compiling takes about 70 ms and saves about
# 20 us per record, so it pays for itself after some 3,500 records.
COMPILE_AFTER = 5_000

# ASCII characters from the rarest to the most common in English text: a needle is looked for only
# when its rarest character is in the text (a one-character test is a memchr).
_RARITY = "`~|^\\{}[]<>#_@$%&*+=;QZXJKVYUWOFBGPMHNRLDCESTAI0123456789:!?'\"()/-,.zqxjkvbpygfwmucldrhsnioate\t\r\n "


def check_portable(pattern: str) -> None:
    """Raise ValueError unless `pattern` is made of ASCII literals, positive ASCII classes, groups,
    alternation and quantifiers: what `re` and Hyperscan read alike, on text and on its UTF-8 bytes.

    Not portable: a non-ASCII character, a letter or digit escape (`\\s`, `\\b`, `\\d` match non-ASCII
    characters in `re`; `\\1` is a back-reference), a negated class, `.`, an anchor, a group extension
    other than `(?:`; and a pattern that matches the empty string (it would fire on every text).
    """
    if not pattern.isascii():
        raise ValueError(f"trigger pattern {pattern!r} is not portable: it holds a non-ASCII character")
    bare = re.sub(r"\\[^A-Za-z0-9]", "", pattern)  # escaped punctuation is a literal
    outside = re.sub(r"\[(?!\^)[^\]\\]*\]", "", bare)  # positive classes of literal characters
    bad = re.search(r"\\.|\[|[.^$]|\(\?(?!:)", outside)
    if bad:
        raise ValueError(f"trigger pattern {pattern!r} is not portable: {bad.group()!r}")
    if re.compile(pattern).fullmatch(""):
        raise ValueError(f"trigger pattern {pattern!r} matches the empty string")


def _gate(needle: str) -> str:
    """The needle's rarest character: non-ASCII first, then by `_RARITY`."""
    return min(needle, key=lambda c: _RARITY.find(c) if c in _RARITY else -1)


def _groups(needles: dict[str, Codes]) -> list[tuple[str, list[tuple[str, Codes]]]]:
    """(gate character, [(needle, its codes)]) with the rarest gates first."""
    groups: dict[str, list] = {}
    for needle, codes in needles.items():
        groups.setdefault(_gate(needle), []).append((needle, codes))
    return sorted(groups.items(), key=lambda kv: _RARITY.find(kv[0]))


def _find(text: str, groups, fired: set) -> None:
    for gate, needles in groups:
        if gate in text:
            for needle, codes in needles:
                if not codes <= fired and needle in text:
                    fired |= codes


def _escape(literal: str) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in literal.encode("utf-8", "surrogatepass"))


def _by_codes(chars: dict[str, Codes]) -> dict[Codes, list[str]]:
    """The characters of each code set: one class each, as Hyperscan compiles a class far faster than as
    many one-character literals."""
    out: dict[Codes, list[str]] = {}
    for char, codes in chars.items():
        out.setdefault(codes, []).append(char)
    return out


def _collect(pattern_id: int, start: int, end: int, flags: int, found: list) -> None:
    found.append(pattern_id)


class _Budget:
    """Texts this process has scanned without a database, and the databases it has compiled."""

    scanned = 0
    databases: dict[tuple, object] = {}


def _hyperscan():
    """The hyperscan module, or None where it is not installed (imported on first use: about 9 ms)."""
    try:
        import hyperscan
    except ImportError:  # optional: the substring tests give the same answer, slower
        return None
    return hyperscan


def _database(items: tuple[tuple[bytes, bool], ...]):
    """The Hyperscan database of the (expression, caseless) pairs `items`, compiled once per process (the
    binding serializes scans of one database); None where Hyperscan is not installed or refuses an
    expression."""
    if items not in _Budget.databases:
        hs, db = _hyperscan(), None
        if hs is not None:
            flags = [hs.HS_FLAG_SINGLEMATCH | (hs.HS_FLAG_CASELESS if caseless else 0) for _, caseless in items]
            expressions = [e for e, _ in items]
            try:
                db = hs.Database()
                db.compile(expressions=expressions, ids=list(range(len(items))), elements=len(items), flags=flags)
            except hs.error:
                db = None
        _Budget.databases[items] = db
    return _Budget.databases[items]


class MultiMatch:
    """Literals, caseless literals, characters and portable patterns, each firing a set of codes.

    `find(text, ascii_, fired)` adds to `fired` the codes of everything `text` holds. Caseless literals
    and characters are decided on ASCII text only: on other text (`ascii_` false) their codes may or may
    not be added, and the caller fires them itself. `engine`: "auto" (Hyperscan where installed, once
    the process has scanned `COMPILE_AFTER` texts), "hyperscan" (at once, where installed) or "python".
    """

    def __init__(
        self,
        literals: dict[str, Codes],
        caseless: dict[str, Codes],
        chars: dict[str, Codes],
        patterns: dict[str, Codes],
        engine: str = "auto",
    ):
        if engine not in ("auto", "python", "hyperscan"):
            raise ValueError(f"unknown engine {engine!r}")
        for needle in caseless:
            if needle != needle.lower():
                raise ValueError(f"caseless needle {needle!r} must be lower case")
        if any(len(c) != 1 or not c.isascii() for c in chars):
            raise ValueError("characters must be single ASCII characters")
        for pattern in patterns:
            check_portable(pattern)
        self._literals = _groups(literals)
        self._caseless = _groups(caseless)
        self._chars = {ord(c): codes for c, codes in chars.items()}
        self._not_chars = bytes(sorted(set(range(256)) - set(self._chars)))
        self._patterns = [(codes, re.compile(p).search) for p, codes in patterns.items()]
        entries = [
            *((_escape(n), False, codes) for n, codes in literals.items()),
            *((_escape(n), True, codes) for n, codes in caseless.items()),
            *((b"[" + _escape("".join(cs)) + b"]", False, codes) for codes, cs in _by_codes(chars).items()),
            *((p.encode(), False, codes) for p, codes in patterns.items()),
        ]
        self._key = tuple((e, f) for e, f, _ in entries)
        self._ids = [codes for _, _, codes in entries]
        self._db = None
        self.engine = "python"
        if engine != "python" and entries:
            self.engine = "pending"  # compiled by the first `find` after the process's budget
            if engine == "hyperscan" or self._key in _Budget.databases:
                self._compile()

    def _compile(self) -> None:
        self._db = _database(self._key)
        self.engine = "hyperscan" if self._db is not None else "python"

    def find(self, text: str, ascii_: bool, fired: set) -> None:
        """Add to `fired` the codes of every literal and pattern `text` holds."""
        if self.engine == "pending":
            if _Budget.scanned >= COMPILE_AFTER:
                self._compile()
            else:
                _Budget.scanned += 1
        if self._db is not None:
            found: list[int] = []
            self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=_collect, context=found)
            for i in found:
                fired |= self._ids[i]
            return
        _find(text, self._literals, fired)
        if ascii_ and self._caseless:
            _find(text.lower(), self._caseless, fired)
        if ascii_ and self._chars:
            for char in set(text.encode("ascii").translate(None, self._not_chars)):
                fired |= self._chars[char]
        for codes, search in self._patterns:
            if not codes <= fired and search(text):
                fired |= codes


def by_item(pairs: Iterable[tuple[str, Iterable[str]]]) -> dict[str, Codes]:
    """{item: the codes listing it} from (code, items) pairs."""
    out: dict[str, set[str]] = {}
    for code, items in pairs:
        for item in items:
            out.setdefault(item, set()).add(code)
    return {item: frozenset(codes) for item, codes in out.items()}
