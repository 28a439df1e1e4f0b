"""Fact signatures of answers, what C001 (contradiction) compares.

A fact signature holds, from an already normalized (NFKC, case-folded) text:

- ``number``: numbers with ``1,000`` -> ``1000``, ``3.50`` -> ``3.5``,
  ``-0`` -> ``0``, leading zeros dropped (``5mg``, ``3pm``, ``1st`` give
  5, 3, 1); dotted versions such as ``3.5.1`` stay as written;
- ``code``: letters then digits, with dotted or hyphenated parts, such as the
  ICD-10 code ``j20.9``, ``covid-19`` or ``x86-64``;
- ``date``: ISO ``2021-03-04``, ``03/04/2021`` (month first unless the first
  part is over 12), ``04.03.2021`` (day first), ``march 4, 2021``,
  ``4 march 2021``, ``march 2021``, ``march 4``, all as ``yyyy-mm-dd`` with
  missing parts left out (``2021-03``, or ``03-04`` without a year);
- ``polarity``: ``yes`` or ``no`` when the answer opens with a clear marker
  (``yes``, ``correct.``, ``no.``, ``not at all``...); ``no problem``
  is not a ``no``.

Code is no fact: fenced and inline code spans and function calls with their
arguments (``primerange(1, 30)``, ``sum(range(1,101))``) are dropped first.

Only the words holding a digit are read (with their neighbours, for month
names), each giving a date, or codes, or else numbers: a date's year is no
number and the ``20`` of ``j20.9`` is none either. Past ``4 * max_facts``
such words a text is long-form and has no number, code or date signature.

Two signatures conflict on a kind when both have values of it and each has
one that the other lacks (a date ``2021-03`` and ``2021-03-04`` agree);
an answer that only lacks a fact, or adds detail to the same ones, does not
conflict. An answer with more than ``max_facts`` values of a kind gives none
of it: long-form text has no single fact to contradict.

``negation`` covers the other clear case: two short answers (at most
``NEGATION_MAX_WORDS`` words) that are the same words once negations (``not``,
``no``, ``never``, ``-n't``) are dropped, with an odd and an even number of
them: ``aspirin is safe for children`` vs ``aspirin is not safe for children``.
"""

from __future__ import annotations

import hashlib
import re
from itertools import islice

KINDS = ("number", "code", "date", "polarity")
NEGATION_MAX_WORDS = 40
_SEP = "\x1f"
_MASK = "_"

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = re.compile(
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?,?"
)
_DAY = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?,?")
_YEAR = re.compile(r"[0-9]{4}")
_NUMERIC_DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})|([0-9]{1,2})([/.])([0-9]{1,2})\6([0-9]{4})")
_CODE = re.compile(r"(?<![\w.-])[a-z]{1,6}-?[0-9][a-z0-9]*(?:[.-][a-z0-9]+)*(?!\w)")
_CODE_WORD = re.compile(r"[a-z]{1,6}-?[0-9][a-z0-9]*(?:[.-][a-z0-9]+)*")
_NUMBER = re.compile(r"(?<![\w.])(-)?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)((?:\.[0-9]+)*)")
_DIGITS = re.compile(r"[0-9]")
_EDGE = "\"'`()[]{}<>*_,;:!?"
_POLARITY_FIRST = frozenset("yctadionf")  # first letters of the polarity markers
_LEAD = re.compile(r"[\s*_\"'`#>(\[-]+")
_YES = re.compile(
    r"(?:yes|yeah|yep|yup)\b|(?:correct|true|absolutely|certainly|definitely|indeed|of course)(?=[.!,;:]|$)"
)
_NO = re.compile(
    r"(?:nope\b|(?:no|incorrect|false|not at all|(?:absolutely|certainly|definitely|of course) not)"
    r"(?=[.!,;:]|$))"
)
_MARKER = re.compile(rf"(?:{_YES.pattern}|{_NO.pattern})[.!,;:]*")
_TOKEN = re.compile(r"[\w']+")
_NEGATIONS = {"not", "no", "never", "cannot", "nor", "neither"}
_CONTRACTIONS = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "is", "cannot": "can"}
_CODE_SPAN = re.compile(r"```.*?(?:```|\Z)|`[^`]*`|(?<![\w.])[a-z_][\w.]*\((?:[^()]|\([^()]*\))*\)")
TRUNCATED = "truncated"  # a text with more digit-bearing words than the limit: its values are incomplete


def _date(y, mo, d) -> str | None:
    mo, d = int(mo), int(d) if d else None
    if not 1 <= mo <= 12 or (d is not None and not 1 <= d <= 31):
        return None
    if y is None:
        return f"{mo:02d}-{d:02d}"
    return f"{y}-{mo:02d}" + (f"-{d:02d}" if d else "")


def _month(word: str) -> int | None:
    return _MONTHS[word[:3]] if word[:3] in _MONTHS and _MONTH.fullmatch(word) else None


def _number(m: re.Match) -> str:
    sign, whole, frac = m.group(1) or "", m.group(2).replace(",", "").lstrip("0") or "0", m.group(3)
    if frac.count(".") > 1:
        return sign + m.group(2) + frac
    frac = frac.rstrip("0").rstrip(".")
    value = whole + frac
    return value if value == "0" else sign + value


def values(text: str, polarity: bool = True, limit: int = 24) -> dict[str, set[str]]:
    """Fact values by kind in a normalized text (single spaces and newlines; kinds without values left out).

        Code is no fact: fenced and inline code spans and function calls with their
    arguments (``primerange(1, 30)``, ``sum(range(1,101))``) are dropped first.

    Only the words holding a digit are read, the first ``limit`` of them; past that the text is
        long-form and ``TRUNCATED`` is among the kinds.
    """
    out: dict[str, set[str]] = {}
    if polarity:
        head = _strip_lead(text[:64])
        if head[:1] in _POLARITY_FIRST:
            if _YES.match(head):
                out["polarity"] = {"yes"}
            elif _NO.match(head):
                out["polarity"] = {"no"}
    if not any(map(text.__contains__, "0123456789")):  # 10x faster than a regex search
        return out
    if "`" in text or "(" in text:
        text = _CODE_SPAN.sub(" ", text)
    words = text.split()
    found = list(islice((i for i, w in enumerate(words) if not w.isalpha() and _DIGITS.search(w)), limit + 1))
    if len(found) > limit:
        del found[limit:]
        out[TRUNCATED] = set()
    used: set[int] = set()
    for i in found:
        if i in used:
            continue
        word = words[i].strip(_EDGE)
        if word[:1].isdigit():
            date = _word_date(words, i, word, used)
            if date:
                out.setdefault("date", set()).add(date)
                continue
            if word.isdigit():
                out.setdefault("number", set()).add(word.lstrip("0") or "0")
                continue
        elif word[:1].isalpha():
            if _CODE_WORD.fullmatch(word):
                out.setdefault("code", set()).add(word)
                continue
            codes = _CODE.findall(word)
            if codes:
                out.setdefault("code", set()).update(codes)
                word = _CODE.sub(_MASK, word)
        numbers = {_number(m) for m in _NUMBER.finditer(word)}
        if numbers:
            out.setdefault("number", set()).update(numbers)
    return out


def _word_date(words: list[str], i: int, word: str, used: set) -> str | None:
    """The date that word ``i`` (stripped: ``word``) writes or starts, marking the year words it takes."""
    m = _NUMERIC_DATE.fullmatch(word.rstrip(".")) if len(word) >= 8 else None
    if m:
        if m.group(1):
            return _date(m.group(1), m.group(3), m.group(4))
        a, b, sep, y = int(m.group(5)), int(m.group(7)), m.group(6), m.group(8)
        return _date(y, b, a) if sep == "." or a > 12 else _date(y, a, b)
    day = _DAY.fullmatch(word.rstrip(".")) if len(word) <= 6 else None
    after = words[i + 1].strip(_EDGE).rstrip(".") if i + 1 < len(words) else ""
    month = _month(words[i - 1]) if i else None
    if month and day:  # march 4, 2021 / june 5th
        if _YEAR.fullmatch(after):
            used.add(i + 1)
            return _date(after, month, day.group(1))
        return _date(None, month, day.group(1)) if month != _MONTHS["may"] else None
    if month and _YEAR.fullmatch(word.rstrip(".")):  # march 2021
        return _date(word.rstrip("."), month, None)
    if day:  # 4 march 2021 / 4th of july 1999
        k = i + 2 if after == "of" else i + 1
        month = _month(words[k]) if k < len(words) else None
        year = words[k + 1].strip(_EDGE).rstrip(".") if month and k + 1 < len(words) else ""
        if _YEAR.fullmatch(year):
            used.add(k + 1)
            return _date(year, month, day.group(1))
    return None


def _strip_lead(text: str) -> str:
    if text[:1].isalnum():
        return text
    m = _LEAD.match(text)
    return text[m.end() :] if m else text


def _date_parts(value: str) -> tuple[str | None, str, str | None]:
    parts = value.split("-")
    if len(parts[0]) == 4:
        return parts[0], parts[1], parts[2] if len(parts) > 2 else None
    return None, parts[0], parts[1]


def _dates_agree(a: str, b: str) -> bool:
    return all(x == y for x, y in zip(_date_parts(a), _date_parts(b)) if x and y)


def _lacks(mine: set[str], theirs: set[str], kind: str) -> set[str]:
    """My values that nothing of theirs matches."""
    if kind == "date":
        return {v for v in mine if not any(_dates_agree(v, w) for w in theirs)}
    return mine - theirs


def signature_of(found: dict[str, set[str]], prompt_facts: dict[str, set[str]], max_facts: int) -> str:
    """An answer's fact signature (from ``values``) as one compact string, less what the prompt states."""
    parts = []
    for kind, kind_values in sorted(found.items()):
        if TRUNCATED in found and kind != "polarity":
            continue
        kind_values = kind_values - prompt_facts.get(kind, set())
        if 0 < len(kind_values) <= max_facts:
            parts += [f"{kind}:{v}" for v in sorted(kind_values)]
    return _SEP.join(parts)


def canonical(found: dict[str, set[str]]) -> str:
    """One string for the facts ``values`` found (equal facts, equal strings)."""
    return _SEP.join(f"{kind}:{v}" for kind in sorted(found) for v in sorted(found[kind]) or [""])


def parse_signature(sig: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for part in sig.split(_SEP) if sig else ():
        kind, value = part.split(":", 1)
        out.setdefault(kind, set()).add(value)
    return out


def conflicts(a: str, b: str) -> list[tuple[str, list[str], list[str]]]:
    """(kind, a's values, b's values) for each kind on which signatures ``a`` and ``b`` disagree."""
    if a == b or not a or not b:
        return []
    fa, fb = parse_signature(a), parse_signature(b)
    out = []
    for kind in KINDS:
        if kind in fa and kind in fb:
            only_a, only_b = _lacks(fa[kind], fb[kind], kind), _lacks(fb[kind], fa[kind], kind)
            if only_a and only_b:
                out.append((kind, sorted(only_a), sorted(only_b)))
    return out


def describe(found: list[tuple[str, list[str], list[str]]], negation: bool = False) -> str:
    """``number 86 vs 84; polarity no vs yes`` (this answer first)."""
    parts = [f"{kind} {', '.join(a)} vs {', '.join(b)}" for kind, a, b in found]
    if negation:
        parts.append("the same answer with and without a negation")
    return "; ".join(parts)


def negation_key(answer: str) -> tuple[int, int]:
    """(hash of the short answer's words without negations or a leading yes/no, negation parity); (0, 0) if long."""
    if answer.count(" ") >= NEGATION_MAX_WORDS + 4:  # cheap bound before tokenizing a long answer
        return 0, 0
    text = _strip_lead(answer)
    m = _MARKER.match(text)
    tokens = _TOKEN.findall(text[m.end() if m else 0 :].replace("\u2019", "'"))
    if not 3 <= len(tokens) <= NEGATION_MAX_WORDS:
        return 0, 0
    kept, parity = [], 0
    for t in tokens:
        if t in _CONTRACTIONS:
            kept.append(_CONTRACTIONS[t])
            parity ^= 1
        elif t in _NEGATIONS:
            parity ^= 1
        elif t.endswith("n't"):
            kept.append(t[:-3])
            parity ^= 1
        else:
            kept.append(t)
    if len(kept) < 3:
        return 0, 0
    digest = hashlib.blake2b(" ".join(kept).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1, parity


def negation_parity(text: str) -> int:
    """Parity of the negations in a text (a prompt's sense flips with it)."""
    parity = 0
    for t in _TOKEN.findall(text.replace("\u2019", "'")):
        if t in _NEGATIONS or t in _CONTRACTIONS or t.endswith("n't"):
            parity ^= 1
    return parity
