"""C003: chat-template artifacts left inside message content."""

from __future__ import annotations

import re

from curate.diagnostics import Finding
from curate.registry import record_rule
from curate.rules.intent import asks_for_dialogue, user_text
from curate.scan import Trigger

_INLINE = re.compile(r"(`+)[^`\n]+?\1")


def _fence_lines(text: str) -> list[tuple[int, int, str, str]]:
    """(line start, line end, fence, rest of the line) for each line starting with ``` or ~~~ (after indentation)."""
    out = []
    for marker in ("```", "~~~"):
        pos = text.find(marker)
        while pos >= 0:
            start = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            if not text[start:pos].strip(" \t"):
                run = pos + 3
                while run < end and text[run] == marker[0]:
                    run += 1
                out.append((start, end, text[pos:run], text[run:end]))
            pos = text.find(marker, end)
    out.sort()
    return out


def fenced_blocks(text: str) -> tuple[list[tuple[int, int]], int | None]:
    """(start, end) of each fenced code block, as markdown pairs the fences, and the start of the block that
    is never closed (it runs to the end of the text), or None."""
    if "```" not in text and "~~~" not in text:
        return [], None
    blocks, opened = [], None
    for start, end, fence, rest in _fence_lines(text):
        if opened is None:
            if fence[0] == "`" and "`" in rest:
                continue  # not a fence: a backtick fence's info string has no backticks
            opened = (start, fence)
        elif fence[0] == opened[1][0] and len(fence) >= len(opened[1]) and not rest.strip():
            blocks.append((opened[0], end))
            opened = None
    if opened is not None:
        blocks.append((opened[0], len(text)))
        return blocks, opened[0]
    return blocks, None


def mask_code(text: str) -> str:
    """The prose of a text: each fenced code block (an unclosed one runs to the end) becomes an empty line
    and each inline code span a space."""
    if "`" not in text and "~~~" not in text:
        return text
    blocks, _ = fenced_blocks(text)
    if blocks:
        parts, pos = [], 0
        for start, end in blocks:
            parts.append(text[pos:start])
            pos = end
        parts.append(text[pos:])
        text = "\n".join(parts)
    return _INLINE.sub(" ", text) if "`" in text else text


_SPECIAL = (
    r"<\|(?:im_\w+|end\w*|eo[tm]_id|endoftext|start\w*|begin\w*|fim_\w+|user|assistant|system"
    r"|python_tag|reserved_special_token_\d+)\|>"
)
_TOKENS = re.compile(
    _SPECIAL + r"|\[/?INST\]|<</?SYS>>|</?s>|<(?:start|end)_of_turn>|^[ \t]*#{3}[ \t]*(?:Response|Instruction)[ \t]*:",
    re.M,
)
_LEADING = re.compile(r"\s*((?i:assistant|human|user))[ \t]*:")
_LEAD_CHARS = frozenset("AaHhUu \t\r\n")
# `<s>struck</s>` inside a line is HTML strikethrough, not a sentence-start token.
_STRIKE = re.compile(r"<s>[^<>\n]{1,200}</s>")


def _maybe_token(text: str) -> bool:
    """The cheap test every message goes through (single characters first); the regexes run only on a hit."""
    if "<" in text and ("<|" in text or "s>" in text or "<<SYS" in text or "_of_turn>" in text):
        return True
    return ("[" in text and "INST]" in text) or ("#" in text and "###" in text)


def _mask_strikethrough(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("<s>") and stripped.endswith("</s>") and _STRIKE.fullmatch(stripped):
        return text  # the whole content wrapped in <s>...</s>: template tokens, not strikethrough
    return _STRIKE.sub(lambda m: " " * len(m.group(0)), text)


def template_artifacts(text: str, headers: bool = True) -> list[str]:
    """Distinct template tokens and role headers (unless `headers` is false) found in prose (outside code), in order."""
    found: list[str] = []
    lead = headers and text[:1] in _LEAD_CHARS and _LEADING.match(text)
    if lead:
        found.append(lead.group(1) + ":")
    if _maybe_token(text):
        prose = mask_code(text)
        if "<s>" in prose or "</s>" in prose:
            prose = _mask_strikethrough(prose)
        for m in _TOKENS.finditer(prose):
            token = " ".join(m.group(0).split())
            if token not in found:
                found.append(token)
    return found


# `_maybe_token`'s substrings, and the colon of a `_LEADING` role header
@record_rule(
    "C003", "template-artifact", "error", trigger=Trigger(("<|", "s>", "<<SYS", "_of_turn>", "INST]", "###", ":"))
)
def template_artifact(record, ctx):
    """Chat-template tokens or role headers inside message content.

    ## What it does
    Looks for special tokens of common chat templates in every message:
    `<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`,
    `<|start_header_id|>` and other `<|...|>` specials, `[INST]`, `[/INST]`,
    `<<SYS>>`, `<s>`, `</s>`, `<start_of_turn>`, the Alpaca headers
    `### Instruction:` and `### Response:` at the start of a line, and a role
    header such as `Assistant:`, `Human:` or `User:` at the very start of the
    content. Code blocks and inline code are skipped (explaining a template is
    fine there), and so is an inline `<s>text</s>` (HTML strikethrough). A
    leading role header in a reply is skipped when the prompt asked for a
    dialogue, script, transcript or role-play: there it is the content.

    ## Why is this bad?
    The trainer applies the model's chat template itself. Template text baked
    into the content is then tokenized as ordinary text: the model learns to
    print `<|im_end|>` or `[INST]` and to invent the next turn.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "[INST] Hi [/INST]"},
                  {"role": "assistant", "content": "Hello!<|im_end|>"}]}
    ```

    ## Fix
    Strip the template markup from the export and keep only the plain turns;
    split a transcript with `Human:`/`Assistant:` headers into messages.
    """
    dialogue = None
    for m in record.messages:
        text = m.text
        if not text:
            continue
        headers = True
        if m.role == "assistant" and text[:1] in _LEAD_CHARS and _LEADING.match(text):
            if dialogue is None:
                dialogue = asks_for_dialogue(user_text(record.messages))
            headers = not dialogue
        found = template_artifacts(text, headers)
        if found:
            shown = ", ".join(f"`{t}`" for t in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            yield Finding(f"{m.role} content contains chat-template markup {shown}", pointer=m.content_pointer)
