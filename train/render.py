"""Render a conversation with the model's chat template and find the spans that carry loss.

The whole conversation is rendered once, as the model will see it. Each
trained assistant reply is then located in that rendering by rendering the
conversation again with the reply's content replaced by a sentinel string:
the two renderings agree up to where the reply starts. From there the trained
span runs over the reply, the tool calls the template writes for it, and the
end-of-turn token (found by probing the template), and stops there: the
scaffolding after it (newlines, the next header) is prompt. This works for
templates that are not prefix-stable (a system prompt moved into the last user
turn, an EOS only at the very end, reasoning blocks kept only on the last
turn). Replies whose content the template ignores (tool-call turns on some
templates) start where the generation prompt ends.

A template that rejects the system role gets the system prompt folded into
the first user turn; one that drops it when the conversation ends with a reply
(Mistral v0.3 puts it in the last user turn only when that turn is the last
message) gets it in front of the last user turn. A template that renders a tool-call turn without its
calls is an error naming the template, never an empty target.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from curate.errors import CurateError
from curate.train.messages import MessageError, normalize_messages, normalize_tools
from curate.train.model import first_line

SENTINEL = "\x07curate-reply\x07"
_PROBE_USER = "\x07curate-user\x07"
_PROBE_SYSTEM = "\x07curate-system\x07"


class TemplateError(CurateError):
    """The chat template cannot format an example for training."""


@dataclass(frozen=True)
class TemplateInfo:
    """What probing the template found: its name, whether it folds system prompts, its end-of-turn tokens."""

    name: str
    folds_system: str | None  # None, "first" (the template rejects system) or "last" (it drops it when a reply ends)
    end_of_turn: tuple[str, ...]

    @property
    def system_note(self) -> str | None:
        """What curate does with system prompts for this template, said once per run."""
        if self.folds_system == "first":
            return (
                f"the chat template of {self.name} has no system role: "
                "system prompts are folded into the first user turn"
            )
        if self.folds_system == "last":
            return (
                f"the chat template of {self.name} drops the system prompt from a conversation that ends with "
                "a reply: it is put in front of the last user turn, where the template puts it at inference"
            )
        return None


def template_name(tokenizer) -> str:
    """How messages name the template: the --chat-template file, or the model it came with."""
    return getattr(tokenizer, "curate_template_file", None) or getattr(tokenizer, "name_or_path", "") or "the model"


def inspect_template(tokenizer) -> TemplateInfo:
    """Probe the template once: system role support and the token(s) that end an assistant turn."""
    cached = getattr(tokenizer, "_curate_template_info", None)
    if cached is not None and cached[0] == tokenizer.chat_template:
        return cached[1]
    name = template_name(tokenizer)
    reply = [{"role": "user", "content": _PROBE_USER}, {"role": "assistant", "content": SENTINEL}]
    folds = None
    try:
        if _PROBE_SYSTEM not in _apply(tokenizer, [{"role": "system", "content": _PROBE_SYSTEM}, *reply], None):
            folds = "last"
    except Exception:  # noqa: BLE001 - a template that rejects the system role raises its own error
        folds = "first"
    try:
        text = _apply(tokenizer, reply, None)
    except Exception as exc:  # the template is unusable: say so with its own error
        raise TemplateError(f"the chat template of {name} cannot render a plain exchange: {first_line(exc)}") from exc
    info = TemplateInfo(name, folds, _end_of_turn(tokenizer, text))
    with contextlib.suppress(AttributeError):  # a tokenizer that refuses attributes is probed each time
        tokenizer._curate_template_info = (tokenizer.chat_template, info)
    return info


def _end_of_turn(tokenizer, probe: str) -> tuple[str, ...]:
    """The special token right after the probe reply (skipping whitespace), and the EOS token."""
    tail = probe[probe.index(SENTINEL) + len(SENTINEL) :].lstrip()
    specials = sorted(
        {str(t) for t in tokenizer.all_special_tokens} | set(tokenizer.get_added_vocab()), key=len, reverse=True
    )
    found = [token for token in specials if token and tail.startswith(token)][:1]
    eos = [tokenizer.eos_token] if tokenizer.eos_token else []
    return tuple(dict.fromkeys(found + eos))


def _apply(tokenizer, messages, tools, generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=generation_prompt)


def fold_system(messages: list[dict], where: str = "first") -> list[dict]:
    """The system prompt put in front of the first (or last) user turn, for templates that need it there."""
    if not messages or messages[0].get("role") != "system":
        return messages
    system, rest = messages[0].get("content") or "", list(messages[1:])
    users = [i for i, message in enumerate(rest) if message.get("role") == "user"]
    if not users:
        return [{"role": "user", "content": system}, *rest]
    i = users[0] if where == "first" else users[-1]
    rest[i] = {**rest[i], "content": f"{system}\n\n{rest[i].get('content') or ''}"}
    return rest


def rendered_segments(tokenizer, messages: list[dict], tools, where: str) -> list[tuple[str, bool]]:
    """The rendered conversation as ``(text, trainable)`` pieces; raises TemplateError naming ``where``."""
    info = inspect_template(tokenizer)
    try:
        messages, tools = normalize_messages(messages), normalize_tools(tools)
    except MessageError as exc:
        raise TemplateError(f"{where}: {exc}") from exc
    if info.folds_system:
        messages = fold_system(messages, info.folds_system)

    def render(conversation, generation_prompt=False) -> str:
        try:
            return _apply(tokenizer, conversation, tools, generation_prompt)
        except Exception as exc:  # jinja errors, and templates raise on purpose
            raise TemplateError(
                f"{where}: the chat template of {info.name} cannot render this example: {first_line(exc)}"
            ) from exc

    full = render(messages)
    segments: list[tuple[str, bool]] = []
    done = 0
    for i, message in enumerate(messages):
        if message.get("role") != "assistant" or message.get("weight", 1) == 0:
            continue
        located = _locate_reply(full, messages, i, render, done)
        if located is None:
            raise TemplateError(
                f"{where}: cannot locate assistant turn {i + 1} in what the chat template of {info.name} renders"
            )
        start, content_end = located
        end = _turn_end(full, content_end, info.end_of_turn, bool(message.get("tool_calls")))
        _check_tool_calls(message, full[start:end], where, info.name)
        segments += [(full[done:start], False), (full[start:end], True)]
        done = end
    segments.append((full[done:], False))
    return [(text, trainable) for text, trainable in segments if text]


def _locate_reply(full: str, messages: list[dict], i: int, render, done: int) -> tuple[int, int] | None:
    """``(start, content end)`` of reply ``i`` in ``full``, from where a rendering with a sentinel reply differs."""
    probe = list(messages)
    probe[i] = {**messages[i], "content": SENTINEL}
    other = render(probe)
    if SENTINEL in other:
        start = _common_prefix(full, other)
        end = max(start, len(full) - _common_prefix(full[::-1], other[::-1]))
        return (start, end) if start >= done else None
    prompt = render(messages[:i], True)  # the template ignores this reply's content: use the generation prompt
    return (len(prompt), len(prompt)) if full.startswith(prompt) and len(prompt) >= done else None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _turn_end(full: str, content_end: int, end_of_turn: tuple[str, ...], has_calls: bool) -> int:
    """The end of the end-of-turn token that closes the reply (its content end if the template writes none).

    Between the content and that token only whitespace, or the turn's tool calls, may come.
    """
    ends = [full.find(token, content_end) for token in end_of_turn]
    found = [(pos, len(token)) for pos, token in zip(ends, end_of_turn) if pos >= 0]
    if not found:
        return content_end
    pos, length = min(found)
    return pos + length if has_calls or not full[content_end:pos].strip() else content_end


def _check_tool_calls(message: dict, span: str, where: str, name: str) -> None:
    """A tool-call turn must render its calls: a template that drops them would train an empty target."""
    for call in message.get("tool_calls") or []:
        function = call.get("function", call) if isinstance(call, dict) else {}
        called = function.get("name") if isinstance(function, dict) else None
        if isinstance(called, str) and called not in span:
            raise TemplateError(
                f"{where}: the chat template of {name} drops tool calls (the call to {called!r} is not in the "
                "rendered assistant turn); train with a template that renders them (--chat-template FILE)"
            )
