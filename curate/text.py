"""Text normalization shared by the duplicate, leak and contradiction rules."""

from __future__ import annotations

import re
import unicodedata

# TeX math markup, which a benchmark problem may carry and its pasted copy may not (or the reverse).
_TEX_HINT = re.compile(r"\$|\\[a-zA-Z(\[\])]")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_TEX_OPERATORS = {
    "\\cdot": " * ",
    "\\times": " * ",
    "\\div": " / ",
    "\\le": " <= ",
    "\\ge": " >= ",
    "\\neq": " != ",
    "\\pm": " +- ",
}
_TEX_DROP = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)\b|\\[$()\[\]]|\$|\\(?=[a-zA-Z])")
_TEX_SPACE = re.compile(r"\\[,;!: ]")
_OPERATOR = re.compile("|".join(re.escape(k) + r"(?![a-zA-Z])" for k in _TEX_OPERATORS))


def tex_plain(text: str) -> str:
    """Text without TeX math markup: `$...$`, `\\(...\\)`, `\\[...\\]`, `\\$`, `\\left`/`\\right` dropped,
    `\\frac{a}{b}` as `a/b`, `\\cdot` and `\\times` as `*`, other commands without their backslash, braces
    dropped. Texts without a `$` or a backslash command are returned as they are."""
    if not _TEX_HINT.search(text):
        return text
    for _ in range(3):  # nested fractions, innermost first
        text, n = _FRAC.subn(r"\1/\2", text)
        if not n:
            break
    text = _OPERATOR.sub(lambda m: _TEX_OPERATORS[m.group(0)], text)
    text = _TEX_DROP.sub("", _TEX_SPACE.sub(" ", text))
    return text.replace("{", "").replace("}", "")


def ascii_runs_table(word_bytes: bytes = b"") -> bytes:
    """A `bytes.translate` table that lower-cases ASCII letters, keeps `a-z` and `word_bytes` and makes
    every other byte a space: `split()` on a text's bytes through it gives the text's lower-cased runs
    of letters and `word_bytes` (one translate and split, cheaper than a regular expression's `findall`)."""
    kept = set(range(ord("a"), ord("z") + 1)) | set(word_bytes)
    return bytes(c + 32 if 65 <= c <= 90 else c if c in kept else 32 for c in range(256))


def _ascii_breaks(text: str) -> bool:
    """Whether `text` holds an ASCII character `str.split()` splits on, other than the space."""
    return (
        "\n" in text
        or "\t" in text
        or "\r" in text
        or "\x0b" in text
        or "\x0c" in text
        or "\x1c" in text
        or "\x1d" in text
        or "\x1e" in text
        or "\x1f" in text
    )


def normalize(text: str) -> str:
    """NFKC, case-folded, TeX markup dropped (`tex_plain`), whitespace collapsed."""
    if "$" in text or "\\" in text:
        text = tex_plain(text)
    # Already collapsed, the common case, costs no split. ASCII text is its own NFKC form and
    # case-folds as it lower-cases; its only whitespace besides the space is `_ascii_breaks`
    # (one memchr each, where `isprintable` tests every character). Every other whitespace
    # character is non-printable.
    if text.isascii():
        text = text.lower()
        collapsed = not _ascii_breaks(text)
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        collapsed = text.isprintable()
    if collapsed and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def role_tagged(messages) -> str:
    """Normalized, role-tagged turns joined by newlines."""
    return "\n".join(f"{m.role}: {normalize(m.text)}" for m in messages)


def final_assistant_index(messages) -> int | None:
    """Index of the last assistant message, or None."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "assistant":
            return i
    return None


def split_prompt(messages):
    """(prompt turns, final answer text): the prompt is every turn before the final assistant message."""
    i = final_assistant_index(messages)
    if i is None:
        return list(messages), ""
    return list(messages[:i]), messages[i].text
