"""Token counts: exact with a transformers tokenizer and its chat template, estimated otherwise."""

from __future__ import annotations

import re

from curate.errors import CurateError

_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """About one token per 4 characters or per word piece, whichever is larger (BPE-like)."""
    return max(len(text) // 4, len(_WORDISH.findall(text)) * 3 // 4)


def load_tokenizer(name_or_path: str):
    """A transformers tokenizer from a local path or cached hub name; a clear error otherwise."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise CurateError('--tokenizer needs the train extra: pip install "curate-sft[train]"') from None
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except Exception as exc:  # transformers raises many kinds for a bad name or path
        raise CurateError(f"cannot load tokenizer {name_or_path!r}: {exc}".splitlines()[0]) from None


def count_tokens(messages, tokenizer) -> int:
    """Tokens of the whole conversation: the chat template when there is one, else the joined texts."""
    if tokenizer is None:
        return sum(estimate_tokens(m.text) + 4 for m in messages)
    if getattr(tokenizer, "chat_template", None):
        chat = [{"role": m.role, "content": m.text} for m in messages]
        try:
            ids = tokenizer.apply_chat_template(chat, tokenize=True)
            ids = ids["input_ids"] if hasattr(ids, "keys") else ids
            return len(ids)
        except Exception:  # a template that rejects this role order: count the plain text instead
            pass
    return sum(len(tokenizer.encode(m.text, add_special_tokens=False)) for m in messages)
