"""One pass of Hyperscan finds what the substring tests find: the same codes for every text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import multimatch
from curate.multimatch import MultiMatch, check_portable

LITERALS = {"sk-": frozenset({"S"}), "ccess": frozenset({"S", "A"}), "…": frozenset({"E"}), "@": frozenset({"M"})}
CASELESS = {"continued": frozenset({"L"})}
CHARS = {"\x07": frozenset({"C"}), "\x1b": frozenset({"C"}), "|": frozenset({"P"})}
PATTERNS = {r"[0-9][0-9 ().-]{4,}[0-9] ?[A-D]": frozenset({"N"})}
ASCII_ONLY = frozenset({"L", "C", "P"})  # decided on ASCII text only: the caller fires them on the rest


def _matchers() -> tuple[MultiMatch, MultiMatch]:
    fast = MultiMatch(LITERALS, CASELESS, CHARS, PATTERNS, "hyperscan")
    assert fast.engine == "hyperscan"
    return MultiMatch(LITERALS, CASELESS, CHARS, PATTERNS, "python"), fast


def _codes(matcher: MultiMatch, text: str) -> set[str]:
    fired: set[str] = set()
    matcher.find(text, text.isascii(), fired)
    return fired if text.isascii() else fired - ASCII_ONLY


# Pieces of the needles and their near misses, case variants, digits, separators, non-ASCII letters and a
# lone surrogate (json.loads keeps one; it has no UTF-8 form).
PIECES = ["sk", "-", "cc", "ess", "ce", "CONTIN", "ued", "conti", "nued", "…", "é", "\ud800", "@", "\x07", "\x1b"]
PIECES += ["|", "1", "23", "4 5", "(", ")", ".", "A", "D", "E", " ", "\n", "x"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_both_engines_find_the_same_codes(pieces):
    python, fast = _matchers()
    text = "".join(pieces)
    assert _codes(fast, text) == _codes(python, text)


@pytest.mark.parametrize(
    "text, codes",
    [
        ("key sk-1", {"S"}),
        ("access", {"S", "A"}),
        ("To be CONTINUED", {"L"}),
        ("bell \x07", {"C"}),
        ("a | b", {"P"}),
        ("NI QQ 12 34 56 C", {"N"}),
        ("NI QQ 12 34 56\nC", set()),
        ("wait…", {"E"}),
        ("mail a@b", {"M"}),
        ("café sk-", {"S"}),
        ("", set()),
    ],
)
def test_each_kind_of_item_fires_its_codes(text, codes):
    for matcher in _matchers():
        assert _codes(matcher, text) == codes


def test_the_database_is_compiled_after_the_process_scanned_enough_texts(monkeypatch):
    monkeypatch.setattr(multimatch._Budget, "scanned", 0)
    monkeypatch.setattr(multimatch._Budget, "databases", {})
    monkeypatch.setattr(multimatch, "COMPILE_AFTER", 3)
    matcher = MultiMatch(LITERALS, CASELESS, CHARS, PATTERNS)
    for _ in range(3):
        assert _codes(matcher, "sk-") == {"S"}
        assert matcher.engine == "pending"
    assert _codes(matcher, "sk-") == {"S"}
    assert matcher.engine == "hyperscan"
    # a matcher of the same items built later in the process uses the compiled database at once
    assert MultiMatch(LITERALS, CASELESS, CHARS, PATTERNS).engine == "hyperscan"


def test_without_hyperscan_the_substring_tests_answer(monkeypatch):
    monkeypatch.setattr(multimatch._Budget, "databases", {})
    monkeypatch.setattr(multimatch, "_hyperscan", lambda: None)
    matcher = MultiMatch(LITERALS, CASELESS, CHARS, PATTERNS, "hyperscan")
    assert matcher.engine == "python"
    assert _codes(matcher, "sk- and CONTINUED") == {"S", "L"}


@pytest.mark.parametrize("pattern", [r"[0-9]{3}-[0-9]{4}", r"a\.b", r"(?:ab|cd)+x", r"[a\]]", r"x\\s"])
def test_portable_patterns_are_accepted(pattern):
    check_portable(pattern)


@pytest.mark.parametrize(
    "pattern, why",
    [
        (r"\d{3}", repr(r"\d")),  # \d matches every Unicode digit in re
        (r"a\s?b", repr(r"\s")),
        (r"(a)\1", repr(r"\1")),
        (r"[^a]b", repr("[")),  # a negated class matches each byte of a non-ASCII character
        (r"a.b", repr(".")),
        (r"(?i)ab", repr("(?")),
        (r"^ab", repr("^")),
        ("é", "non-ASCII"),
        (r"a?", "empty string"),
    ],
)
def test_patterns_that_engines_read_differently_are_refused(pattern, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        check_portable(pattern)


def test_a_caseless_needle_must_be_lower_case():
    with pytest.raises(ValueError, match="lower case"):
        MultiMatch({}, {"Continued": frozenset({"L"})}, {}, {})
