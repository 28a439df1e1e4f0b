"""Text normalization shared by the duplicate, leak and contradiction rules."""

from __future__ import annotations

import unicodedata


def normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    # Already collapsed, the common case, costs no split: every whitespace
    # character but the ASCII space is non-printable.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
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
