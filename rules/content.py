"""F009-F011: is the text of each message usable as it stands."""

from __future__ import annotations

import re
import unicodedata

from curate.diagnostics import Finding
from curate.edits import Edit
from curate.formats import FORMATS
from curate.quoting import short
from curate.registry import record_rule
from curate.rules.format import calls_tool, content_fields, field_label, field_pointer, is_text_part
from curate.scan import Trigger


def _text_of(value) -> str | None:
    """A content value as text: a string, or text parts joined; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(is_text_part(p) for p in value):
        return "".join(p["text"] for p in value)
    return None


def _optional(fmt, holder, key, data) -> bool:
    """Fields that may be empty: a top-level `system`, alpaca's `input`, an instruction whose input
    holds the prompt, and the content beside `tool_calls`."""
    if holder is data:
        if key in (fmt.system_key, fmt.input_key):
            return True
        extra = data.get(fmt.input_key)
        return key == fmt.prompt_key and isinstance(extra, str) and bool(extra.strip())
    return calls_tool(holder)


@record_rule("F009", "empty-content", "error", trigger=Trigger(shape=True))
def empty_content(record, ctx):
    """A message's content is empty or whitespace only.

    ## What it does
    Reports empty or whitespace-only content (a string, or text parts that
    join to nothing). Not reported: the content of an assistant message that
    carries `tool_calls`, an empty top-level `system`, alpaca's `input`, and
    an empty alpaca `instruction` whose `input` holds the prompt.

    ## Why is this bad?
    An empty user turn teaches the model to answer nothing; an empty
    assistant turn teaches it to stop at once. Either is usually an export
    bug.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]}
    ```

    ## Fix
    Fill in the missing text or drop the record.
    """
    data = record.data
    fmt = FORMATS[record.fmt]
    for holder, key, index in content_fields(data, fmt):
        text = _text_of(holder[key])
        if text is None or (text and not text[0].isspace()) or text.strip() or _optional(fmt, holder, key, data):
            continue
        what = "empty" if not text else f"whitespace only ({short(text, 20)})"
        yield Finding(f"{field_label(fmt, holder, key, index)} is {what}", field_pointer(fmt, key, index))


def _trim(text: str) -> tuple[int, int] | None:
    """Bounds of `text` with surrounding whitespace removed; None when it is all whitespace.

    The indentation (a tab, or two or more spaces) of the first line of a multi-line text stays:
    it is probably code whose relative indentation matters. Leading blank lines go.
    """
    start = len(text) - len(text.lstrip())
    if start == len(text):
        return None
    end = len(text.rstrip())
    if start:
        line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
        indent = text[line_start:start]
        if (len(indent) >= 2 or "\t" in indent) and text.find("\n", start, end) != -1:
            start = line_start
    return start, end


def _needs_trim(text: str) -> tuple[int, int] | None:
    """Bounds to cut `text` to, or None when there is nothing to strip."""
    if not text or not (text[0].isspace() or text[-1].isspace()):
        return None
    bounds = _trim(text)
    return bounds if bounds and bounds != (0, len(text)) else None


def _strip_edits(value, path: tuple) -> list[Edit]:
    """Edits that strip the content's surrounding whitespace; none when there is nothing to strip.

    Text parts are treated as one text: the cut runs across parts, and edge parts
    left empty by it are dropped.
    """
    text = _text_of(value)
    bounds = _needs_trim(text) if text is not None else None
    if bounds is None:
        return []
    start, end = bounds
    if isinstance(value, str):
        return [Edit(path, value[start:end])]
    edits, pos = [], 0
    for j, part in enumerate(value):
        t = part["text"]
        lo, hi = pos, pos + len(t)
        pos = hi
        cut = t[min(max(start, lo), hi) - lo : max(min(end, hi), lo) - lo]
        if cut != t:
            edits.append(Edit(path + (j, "text"), cut) if cut else Edit(path + (j,)))
    return edits


def fix_whitespace(data, fmt) -> list[Edit]:
    """Edits that strip surrounding whitespace from every content field."""
    edits = []
    for holder, key, index in content_fields(data, fmt):
        edits += _strip_edits(holder[key], (key,) if index is None else (fmt.list_key, index, key))
    return edits


@record_rule("F010", "surrounding-whitespace", "warning", fix=fix_whitespace, trigger=Trigger(shape=True))
def surrounding_whitespace(record, ctx):
    """Content has leading or trailing whitespace.

    ## What it does
    Reports content (or text parts, taken together) that starts or ends with
    whitespace: a leading space, blank lines, a trailing newline. The
    indentation of the first line of a multi-line text (a tab, or two or more
    spaces) is left alone: it is probably code. Whitespace-only content is
    F009's.

    ## Why is this bad?
    The model learns to emit the stray spaces and newlines, and tokens such
    as `" Sure"` and `"Sure"` differ, so the same reply trains two ways.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": " hi\\n"}, {"role": "assistant", "content": "hello\\n\\n"}]}
    ```

    ## Fix
    `curate fix` strips it (safe), editing only that string's bytes.
    """
    fmt = FORMATS[record.fmt]
    for holder, key, index in content_fields(record.data, fmt):
        text = _text_of(holder[key])
        bounds = _needs_trim(text) if text is not None else None
        if bounds is None:
            continue
        start, end = bounds
        sides = [
            f"leading {short(text[:start], 16)}" if start else "",
            f"trailing {short(text[end:], 16)}" if end < len(text) else "",
        ]
        yield Finding(
            f"{field_label(fmt, holder, key, index)} has {' and '.join(s for s in sides if s)} whitespace (fixable)",
            field_pointer(fmt, key, index),
        )


_CP1252_HIGH = bytes(range(0x80, 0xA0)).decode("cp1252", errors="ignore")
_CONT = "\x80-\xbf" + re.escape(_CP1252_HIGH)  # what UTF-8 continuation bytes look like as Latin-1/cp1252
_NOT_JOINABLE = "\x00-\x7f\\s\u200b-\u200d\u2060\ufeff"
_SEA = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer: U+200B marks word breaks
_CTRL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_SUSPICIOUS = re.compile(
    f"(?P<moji>[ÂÃÄÅÐÑ][{_CONT}]|â[{_CONT}]{{2}}|ð[Ÿ\x9f][{_CONT}]{{0,2}})"
    f"|(?P<ctrl>{_CTRL}|[\x80-\x9f])"
    "|(?P<fffd>\ufffd)"
    # zero-width joiners are legitimate between non-ASCII characters (emoji sequences, Persian,
    # Indic scripts), U+200B between Thai/Lao/Myanmar/Khmer letters
    f"|(?P<zw>[\u2060\ufeff]|(?<![{_SEA}])\u200b|\u200b(?![{_SEA}])"
    f"|(?<![^{_NOT_JOINABLE}])[\u200c\u200d]|[\u200c\u200d](?![^{_NOT_JOINABLE}]))"
)
_ASCII_SUSPICIOUS = re.compile(f"(?P<ctrl>{_CTRL})")
# every match of _SUSPICIOUS starts with one of these
_TRIGGER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\u200b-\u200d\u2060\ufeffÂÃÄÅÐÑâð]")
_MAX_LISTED = 3


def _describe(m: re.Match) -> str:
    s = m.group()
    if m.lastgroup == "moji":
        try:
            raw = b"".join(c.encode("cp1252") if c in _CP1252_HIGH else c.encode("latin-1") for c in s)
            hint = f", probably {short(raw.decode('utf-8'))}"
        except UnicodeError:
            hint = ""
        return f"mojibake {short(s)} (UTF-8 read as Latin-1/cp1252{hint})"
    if m.lastgroup == "fffd":
        return "U+FFFD REPLACEMENT CHARACTER (bytes lost in decoding)"
    name = unicodedata.name(s, "control character")
    return f"U+{ord(s):04X} {name}"


def _matches(text: str):
    """Suspicious spans of `text`: the full pattern is tried only where a trigger character is."""
    if text.isascii():
        yield from _ASCII_SUSPICIOUS.finditer(text)
        return
    end = 0
    for trigger in _TRIGGER.finditer(text):
        if trigger.start() >= end:
            m = _SUSPICIOUS.match(text, trigger.start())
            if m:
                end = m.end()
                yield m


def _suspicious(text: str) -> str | None:
    """What is suspicious in `text`, or None."""
    found: dict[str, int] = {}
    count = 0
    for m in _matches(text):
        count += 1
        what = _describe(m)
        if what not in found and len(found) < _MAX_LISTED:
            found[what] = m.start()
    if not count:
        return None
    listed = ", ".join(f"{what} at offset {at}" for what, at in found.items())
    more = count - len(found)
    return listed + (f" ({more} more)" if more > 0 else "")


# in ASCII text, `_TRIGGER` is `_CTRL`
@record_rule(
    "F011",
    "suspicious-characters",
    "warning",
    trigger=Trigger(chars="".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]))),
)
def suspicious_characters(record, ctx):
    """Content holds U+FFFD, zero-width or control characters, or mojibake.

    ## What it does
    Reports U+FFFD replacement characters; zero-width characters (U+200B,
    U+200C, U+200D, U+2060, U+FEFF); control characters other than tab and
    newlines (C0, DEL, C1); and mojibake, UTF-8 decoded as Latin-1 or cp1252
    (`Ã©`, `â€™`, `Ã¨`, `Â `). Not reported: zero-width joiners between
    non-ASCII characters (emoji ZWJ sequences such as 👩‍💻, Persian and Indic
    text) and U+200B inside Thai, Lao, Myanmar or Khmer text.

    ## Why is this bad?
    These are traces of broken exports and encodings. The model learns to
    produce them, and invisible characters split tokens, so identical-looking
    text trains differently.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "Itâ€™s cafÃ© time"}, {"role": "assistant", "content": "ok\\u200b"}]}
    ```

    ## Fix
    Re-decode the source as UTF-8 (or repair it with `ftfy`), and remove
    invisible and control characters.
    """
    fmt = FORMATS[record.fmt]
    for holder, key, index in content_fields(record.data, fmt):
        value = holder[key]
        if isinstance(value, str):
            if _TRIGGER.search(value) is None:  # the cheap test: every suspicious span starts with a trigger
                continue
            texts = ((None, value),)
        elif isinstance(value, list):
            texts = ((j, p["text"]) for j, p in enumerate(value) if is_text_part(p))
        else:
            continue
        for part, text in texts:
            found = _suspicious(text)
            if found:
                pointer = field_pointer(fmt, key, index) + ("" if part is None else f"/{part}/text")
                yield Finding(f"{field_label(fmt, holder, key, index)} has suspicious characters: {found}", pointer)
