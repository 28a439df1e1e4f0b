"""Q007: messages that are only a placeholder, or hold an unfilled template slot."""

from __future__ import annotations

import re

from curate.diagnostics import Finding
from curate.registry import record_rule
from curate.rules.intent import prose, user_text

# Whole-field placeholders, compared case-folded with surrounding brackets, quotes and final punctuation removed.
_EMPTY_WORDS = {
    "noinput",
    "no input",
    "no input required",
    "no input needed",
    "no input necessary",
    "no input provided",
    "no input given",
    "input not required",
    "not applicable",
    "n/a",
    "n.a.",
    "none",
    "null",
    "nil",
    "-",
    "--",
    "empty",
    "blank",
    "no context",
    "no context provided",
    "not provided",
    "nothing",
    "nooutput",
    "no output",
    "no output required",
    "no output needed",
    "no output necessary",
    "no response",
    "no answer",
    "tbd",
    "todo",
    "...",
}
_EMPTY_STARTS = frozenset(w[0] for w in _EMPTY_WORDS)
# In a reply these can be a real answer ("Which of these numbers is prime? None."): a reply must be clearer.
_ANSWER_WORDS = {"none", "nothing", "-", "--", "empty", "blank", "nil", "..."}
_MARKER = re.compile(r"^\s*[<\[(]\s*no[ _-]?(?:output|input|response|answer)\s*[>\])]", re.I)
# A `<noinput>` line left inside real content.
_MARKER_LINE = re.compile(r"^[ \t]*<\s*no[ _-]?(?:output|input)\s*>[ \t]*$", re.I | re.M)
_SLOT = re.compile(
    r"[<\[]\s*(?:insert|enter|fill in)\b[^<>\[\]\n=\"'(){};]{0,60}[>\]]"
    r"|\{\{\s*[A-Za-z_][\w -]{0,40}\}\}",
    re.I,
)
# Markup or code around a `{{slot}}`: a template language in use, not an unfilled slot.
_CODE_HINT = re.compile(r"<[a-zA-Z/!]|\{%|;\s*$|=\s*[\"'{]", re.M)
_TEMPLATING = re.compile(
    r"\b(?:templat\w*|jinja|handlebars|mustache|liquid|placeholders?|mail merge|variables?)\b", re.I
)
_STRIP = " \t\r\n\"'`<>[](){}.:;!*_"


def _bare(text: str) -> str:
    return " ".join(text.strip(_STRIP).casefold().split())


def only_placeholder(text: str, reply: bool) -> str | None:
    """The placeholder the whole text is, or None."""
    if len(text) > 80 or not text.strip():
        return None
    marker = _MARKER.match(text)
    if marker and reply:
        return marker.group(0).strip()
    start = text.strip(_STRIP)[:1]
    if start and start.isascii() and not start.isspace() and start.lower() not in _EMPTY_STARTS:
        return None  # the bare form starts with this character in lower case (it is not empty): no placeholder does
    bare = _bare(text)
    if not bare and text.strip().strip(".-") == "":
        bare = text.strip()
    if bare in _EMPTY_WORDS and not (reply and bare in _ANSWER_WORDS):
        return text.strip()
    return None


_ALPACA_FIELDS = tuple((key, f"/{key}", key == "output") for key in ("system", "instruction", "input", "output"))
_ROLES = frozenset(("user", "assistant", "system"))


def _fields(record) -> list[tuple[str, object, bool]]:
    """(text, its pointer or the message whose content it is, is reply) for each message, alpaca's `instruction`
    and `input` apart (a message's pointer is built only for a finding: most messages have none)."""
    data = record.data
    if record.fmt == "alpaca" and isinstance(data, dict):
        return [(v, pointer, reply) for key, pointer, reply in _ALPACA_FIELDS if isinstance(v := data.get(key), str)]
    return [(m.text, m, m.role == "assistant") for m in record.messages if m.role in _ROLES]


def _located(at, reply: bool) -> tuple[str, str]:
    """(pointer, what the finding calls the field) for a field `_fields` gave."""
    pointer = at if isinstance(at, str) else at.content_pointer
    return pointer, "reply" if reply else ("input" if pointer == "/input" else "prompt")


def _slot(text: str) -> str | None:
    if "<" not in text and "[" not in text and "{{" not in text:
        return None
    text = prose(text)
    line = _MARKER_LINE.search(text)
    if line:
        return line.group(0).strip()
    m = _SLOT.search(text)
    if m and m.group(0).startswith("{{") and _CODE_HINT.search(text):
        return None
    return m.group(0) if m else None


@record_rule("Q007", "placeholder-content", "error")
def placeholder_content(record, ctx):
    """A message or field that is only a placeholder, or holds an unfilled template slot.

    ## What it does
    Flags a message (or an alpaca `instruction`, `input` or `output` field)
    whose whole text is a placeholder: `<noinput>`, `No input.`, `N/A`,
    `None`, `null`, `-`, `<nooutput>`, `No output required`, or a reply that
    opens with `<nooutput>`, or a `<noinput>` line left inside real content.
    It also flags an unfilled template slot anywhere
    in the prose (not in code): `<insert cuisine>`, `[Insert name here]`,
    `{{name}}`, unless the prompt is about templates or placeholders (a
    letter signed `[Your Name]` is what a model without the user's name
    should write, and is left alone). A bare
    `None` or `Nothing` reply is left alone: it can be the answer.

    A placeholder in a reply is an error; in a prompt or an `input` field it
    is reported as a warning (the severity a configuration gives Q007 applies
    to both).

    ## Why is this bad?
    Generated datasets mark "no input" and "cannot answer" with placeholder
    strings. Trained on, the model learns to print `<nooutput>` as an
    answer, or to treat `N/A` as content; a prompt with an unfilled
    `<insert cuisine>` slot asks nothing answerable.

    ## Example
    ```json
    {"instruction": "Render a 3D model of a house", "input": "<noinput>",
     "output": "<nooutput> This type of instruction cannot be fulfilled."}
    ```

    ## Fix
    Make the `input` empty (alpaca) or drop the placeholder text; drop the
    records whose reply is a placeholder, or write the real answer; fill the
    slot.
    """
    asked_template = None
    for text, at, reply in _fields(record):
        if not text:
            continue
        found = only_placeholder(text, reply)
        if found:
            pointer, where = _located(at, reply)
            yield Finding(
                f"{where} is only the placeholder {found[:40]!r}",
                pointer=pointer,
                severity=None if reply else "warning",
            )
            continue
        slot = _slot(text)
        if slot:
            if asked_template is None:
                asked_template = bool(_TEMPLATING.search(user_text(record.messages)))
            if not asked_template:
                pointer, where = _located(at, reply)
                yield Finding(
                    f"{where} holds an unfilled template slot {slot[:40]!r}",
                    pointer=pointer,
                    severity=None if reply else "warning",
                )
