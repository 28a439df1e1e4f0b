"""Q008: replies that run on into further generated turns."""

from __future__ import annotations

import re

from curate.diagnostics import Finding
from curate.registry import record_rule
from curate.rules.intent import asks_for_dialogue, prose, user_text
from curate.scan import Trigger

# `10. Instruction:` — the numbered blocks of self-instruct generations, merged into one reply.
_NUMBERED = re.compile(r"^[ \t]*#*[ \t]*\d{1,3}[ \t]*[.)][ \t]*(?:Instruction|Input|Output)[ \t]*:", re.M | re.I)
# An unnumbered instruction header followed later by an output or response header.
_BLOCK = re.compile(
    r"^[ \t]*#{0,4}[ \t]*(?:Instruction|Task)[ \t]*:.*?^[ \t]*#{0,4}[ \t]*(?:Output|Response)[ \t]*:",
    re.M | re.S | re.I,
)
# A fake next exchange: a user header on its own line after the reply has started, then an assistant header.
_NEXT_TURN = re.compile(
    r"\n[ \t]*(?:#{2,4}[ \t]*)?(?:Human|User|USER|Prompter)[ \t]*:[ \t]*\S.*?"
    r"\n[ \t]*(?:#{2,4}[ \t]*)?(?:Assistant|AI|Bot|GPT|Chatbot|Response)[ \t]*:",
    re.S,
)


def _runaway(reply: str, dialogue_asked: bool) -> str | None:
    """What the reply runs on into, or None."""
    if ":" not in reply:
        return None
    text = prose(reply)
    m = _NUMBERED.search(text)
    if m and m.start() > 0:
        return f"a numbered generation block {m.group(0).strip()!r}"
    m = _BLOCK.search(text)
    if m and m.start() > 0:
        return f"a new instruction block {m.group(0).strip().splitlines()[0]!r}"
    if not dialogue_asked:
        m = _NEXT_TURN.search(text)
        if m and text[: m.start()].strip():
            return f"a fake next exchange {m.group(0).strip().splitlines()[0][:30]!r}"
    return None


@record_rule("Q008", "runaway-generation", "error", trigger=Trigger((":",)))
def runaway_generation(record, ctx):
    """A reply that runs on into further generated turns.

    ## What it does
    Looks in each assistant reply (outside code) for what a generator writes
    when it does not stop: the numbered blocks of self-instruct data
    (`10. Instruction:`, `10. Input:`, `10. Output:`), a new
    `Instruction:` ... `Output:` block, or a fake next exchange (a `User:`
    or `Human:` line after the answer, then an `Assistant:` or `AI:` line;
    a lone `Human: Biotic` is a label, not a turn). A next exchange counts only
    when the prompt did not ask for a dialogue, script, transcript or
    role-play. Headers at the very start of the reply are C003's.

    ## Why is this bad?
    The model learns to keep talking after its answer: to invent a new task
    and answer it, or to write the user's next message.

    ## Example
    ```json
    {"instruction": "Rewrite in the active voice.", "input": "The book was read by the student.",
     "output": "The student read the book.\\n##\\n10. Instruction: Name a color.\\n10. Output: Blue."}
    ```

    ## Fix
    Cut the reply where the answer ends (before the first generated header),
    or drop the record.
    """
    dialogue = None
    for m in record.messages:
        if m.role != "assistant" or ":" not in m.text:
            continue  # without a colon, no header: `_runaway` finds nothing
        if dialogue is None:
            dialogue = asks_for_dialogue(user_text(record.messages))
        found = _runaway(m.text, dialogue)
        if found:
            yield Finding(f"reply runs on into {found}", pointer=m.content_pointer)
