"""R: is the conversation a sequence of turns a chat template accepts.

Role rules judge only records whose structure F004-F006 accept: a record with a
non-object message, a message without a role or with an unknown role, or an
alpaca record missing `instruction`/`output` is left to those rules, so a broken
record is reported once, for what is actually wrong. Role aliases count as the
role they stand for.
"""

from __future__ import annotations

from curate.diagnostics import Finding
from curate.formats import FORMATS
from curate.quoting import short
from curate.registry import record_rule
from curate.scan import Trigger

_SHAPE = Trigger(shape=True)  # a plain conversation breaks no role rule
_last: list = [None, None]  # (record, its turns): the six role rules see the same record in a row


def _turns(record):
    """The record's canonical messages, or None when its structure is broken (F004-F006)."""
    if _last[0] is record:
        return _last[1]
    _last[0], _last[1] = record, _check(record)
    return _last[1]


def _check(record):
    data, fmt = record.data, FORMATS[record.fmt]
    if fmt.list_key is None:
        if data.get(fmt.prompt_key) is None or data.get(fmt.response_key) is None:
            return None
    else:
        for item in data[fmt.list_key]:
            if not isinstance(item, dict):
                return None
    messages = record.messages
    if not messages:
        return None
    for m in messages:
        if not m.known_role:
            return None
    return messages


def _a(role: str) -> str:
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def _list_pointer(record) -> str:
    fmt = FORMATS[record.fmt]
    return f"/{fmt.list_key}" if fmt.list_key else f"/{fmt.response_key}"


@record_rule("R001", "no-assistant", "error", trigger=_SHAPE)
def no_assistant(record, ctx):
    """The conversation has no assistant message, or every assistant message has `weight: 0`.

    ## What it does
    Looks for at least one assistant message (sharegpt `gpt` and
    `function_call` count) that is trained on, i.e. whose `weight` is not 0.

    ## Why is this bad?
    Loss is computed on assistant tokens only: such a record contributes
    nothing but padding and compute, and often is a truncated export.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "weight": 0}]}
    ```

    ## Fix
    Add the missing reply, set `weight` to 1 on the turns to learn, or drop
    the record.
    """
    messages = _turns(record)
    if messages is None:
        return
    replies = [m for m in messages if m.role == "assistant"]
    if not replies:
        yield Finding("no assistant message: nothing to learn from", _list_pointer(record))
    elif all(m.weight == 0 for m in replies):
        yield Finding(
            f"every assistant message ({len(replies)}) has weight 0: nothing to learn from", _list_pointer(record)
        )


@record_rule("R002", "system-not-first", "error", trigger=_SHAPE)
def system_not_first(record, ctx):
    """A system message appears after the first position.

    ## What it does
    Reports every system message that is not the first message, including a
    second system message right after the first, and a system message in
    sharegpt's `conversations` when the record also has a top-level `system`.

    ## Why is this bad?
    Most chat templates accept one system message, first; others raise or
    render a mid-conversation system message as a user turn.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "Be brief."},
                  {"role": "assistant", "content": "Hello."}]}
    ```

    ## Fix
    Merge the system messages into one at the start.
    """
    messages = _turns(record)
    if messages is None:
        return
    for i, m in enumerate(messages[1:], 1):
        if m.role == "system":
            if all(prev.role == "system" for prev in messages[:i]):
                where = "a second system message: only one, at the start, is allowed"
            else:
                where = f"a system message after {_a(messages[i - 1].role)} message: it must come first"
            yield Finding(where, m.pointer)


@record_rule("R003", "consecutive-same-role", "error", trigger=_SHAPE)
def consecutive_same_role(record, ctx):
    """Two user or two assistant messages follow each other.

    ## What it does
    Reports a user message right after a user message, and an assistant
    message right after an assistant message. Tool results between assistant
    turns are fine: assistant (tool call), tool, assistant is legal, and so
    are consecutive tool messages answering parallel calls.

    ## Why is this bad?
    Templates that require alternation (Llama 2, Mistral, Gemma) raise on
    it; others glue the turns together, and a missing turn usually means a
    broken export.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "hello?"},
                  {"role": "assistant", "content": "Hi!"}]}
    ```

    ## Fix
    Merge the two messages, or restore the missing turn between them.
    """
    messages = _turns(record)
    if messages is None:
        return
    for prev, m in zip(messages, messages[1:]):
        if m.role == prev.role and m.role in ("user", "assistant"):
            yield Finding(f"two {m.role} messages in a row (after {prev.pointer})", m.pointer)


@record_rule("R004", "first-not-user", "error", trigger=_SHAPE)
def first_not_user(record, ctx):
    """The first message after the system prompt is not from the user.

    ## What it does
    Finds the first non-system message and requires the user role.

    ## Why is this bad?
    Models are trained to answer a user; a conversation that opens with an
    assistant or tool turn is rejected by alternation-checking templates and
    usually means the opening user turn was lost.

    ## Example
    ```json
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "assistant", "content": "Hi! How can I help?"},
                  {"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "Sunny."}]}
    ```

    ## Fix
    Restore the user's opening turn, or drop the leading non-user turns.
    """
    messages = _turns(record)
    if messages is None:
        return
    first = next((m for m in messages if m.role != "system"), None)
    if first is not None and first.role != "user":
        yield Finding(f"the conversation opens with {_a(first.role)} message, not a user message", first.pointer)


@record_rule("R005", "last-not-assistant", "warning", trigger=_SHAPE)
def last_not_assistant(record, ctx):
    """The conversation ends on a turn that is not the assistant's.

    ## What it does
    Requires the last message to be an assistant message. Records with no
    assistant message at all are R001's.

    ## Why is this bad?
    The trailing user or tool turn is never answered and not trained on; it
    usually means the final reply was cut off.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."},
                  {"role": "user", "content": "Thanks!"}]}
    ```

    ## Fix
    Add the final reply, or drop the trailing turn.
    """
    messages = _turns(record)
    if messages is None or messages[-1].role == "assistant":
        return
    if any(m.role == "assistant" for m in messages):
        last = messages[-1]
        yield Finding(f"the conversation ends on {_a(last.role)} message, not an assistant reply", last.pointer)


@record_rule("R006", "orphan-tool-message", "error", trigger=_SHAPE)
def orphan_tool_message(record, ctx):
    """A tool message answers no earlier assistant tool call.

    ## What it does
    A tool message with a `tool_call_id` must match the `id` of a call in an
    earlier assistant message's `tool_calls`. A tool message without one
    (sharegpt `observation`, legacy `function` messages) needs some earlier
    assistant message that calls a tool (`tool_calls`, `function_call`, or
    sharegpt's `function_call` turn).

    ## Why is this bad?
    Templates pair tool results with their calls; an orphan result raises
    (OpenAI's fine-tuning API rejects it) or teaches the model tool output
    that nothing asked for.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "Weather?"},
                  {"role": "tool", "tool_call_id": "call_1", "content": "{\\"temp\\": 21}"},
                  {"role": "assistant", "content": "21 degrees."}]}
    ```

    ## Fix
    Restore the assistant message with the tool call, fix the
    `tool_call_id`, or remove the tool message.
    """
    messages = _turns(record)
    if messages is None:
        return
    ids: set[str] = set()
    calls = False
    for m in messages:
        if m.role == "assistant":
            if m.tool_calls or (isinstance(m.raw, dict) and m.raw.get("function_call")):
                calls = True
            if isinstance(m.tool_calls, list):
                ids.update(c["id"] for c in m.tool_calls if isinstance(c, dict) and isinstance(c.get("id"), str))
        elif m.role == "tool":
            tid = m.tool_call_id
            if tid is None:
                if not calls:
                    yield Finding("tool message with no earlier assistant tool call", m.pointer)
            elif not (isinstance(tid, str) and tid in ids):
                known = f" (earlier calls: {', '.join(sorted(ids)[:5])})" if ids else " (no earlier tool call)"
                yield Finding(
                    f"tool message answers tool_call_id {short(tid)}, which no earlier assistant tool call has{known}",
                    m.pointer,
                )
