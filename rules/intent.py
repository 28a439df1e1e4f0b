"""What a prompt asks for, and where its parts are: shared by the content rules (no rules here)."""

from __future__ import annotations

import re
from typing import NamedTuple

from curate.text import split_prompt

# A dialogue, script or transcript asked for: role headers such as `User:` in the reply are then the content.
_DIALOGUE = re.compile(
    r"\b(?:dialog(?:ue)?s?|conversations?|script|screenplay|transcripts?|interview|chat ?log|role[- ]?play"
    r"|exchange between|conversation between|talk between|scene|skit|play between|q&a|question[- ]and[- ]answer)\b",
    re.I,
)
# A requested persona of an AI: the reply may then say "as an AI language model".
_AI_PERSONA = re.compile(
    r"\b(?:pretend|act(?:ing)? as|role[- ]?play|imagine (?:that )?you(?:'re| are)|play the (?:role|part)"
    r"|you are now|respond as|answer as|speak as|write as)\b[^.?!\n]{0,60}?"
    r"\b(?:AI|artificial intelligence|language model|LLM|chat ?bot|virtual assistant|robot)\b",
    re.I,
)


class Turns(NamedTuple):
    """A conversation split once for every rule that reads its prompt and final reply."""

    prompt: list  # every message before the final assistant message
    reply: str  # the final assistant message's text ("" when there is none)
    users: list  # the user messages of the prompt


_last: list = [None, None]  # (messages, their Turns): the rules see one record after another


def turns(record) -> Turns:
    """The record's `Turns`, computed once per record."""
    if _last[0] is not record.messages:
        prompt, reply = split_prompt(record.messages)
        _last[0], _last[1] = record.messages, Turns(prompt, reply, [m for m in prompt if m.role == "user"])
    return _last[1]


def user_text(messages) -> str:
    """The user turns of the prompt (every turn before the final assistant message), joined."""
    prompt, _ = split_prompt(messages)
    return "\n".join(m.text for m in prompt if m.role == "user")


def asks_for_dialogue(prompt: str) -> bool:
    """Whether the prompt asks for a dialogue, script, transcript or role-play."""
    return bool(_DIALOGUE.search(prompt))


def asks_for_ai_persona(prompt: str) -> bool:
    """Whether the prompt asks the reply to play an AI (so AI boilerplate is what was asked)."""
    return bool(_AI_PERSONA.search(prompt))


def prose(text: str) -> str:
    """The text without its fenced and inline code."""
    if "`" not in text and "~~~" not in text:
        return text  # no code (mask_code's own first test, without the call)
    from curate.rules.template import mask_code  # template imports this module

    return mask_code(text)
