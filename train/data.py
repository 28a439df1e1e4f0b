"""Training data: read conversations, format them with the chat template, mask the loss.

Every example is rendered with the tokenizer's own chat template. The loss mask
comes from rendering turn by turn: for assistant message ``i`` the text between
``messages[:i]`` rendered with a generation prompt and ``messages[:i+1]``
rendered without one is the assistant part (end-of-turn token included). Each
segment is tokenized on its own, so the mask is exact at token level and the
prompt tokens are the ones the model sees at inference.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

IGNORE_INDEX = -100

_SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "chatgpt": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
}


class TemplateError(ValueError):
    """The chat template cannot format an example for training."""


@dataclass
class Example:
    """One conversation and where it came from."""

    path: str
    line: int
    messages: list[dict]
    tools: list | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Encoded:
    """A tokenized example: ``labels`` is ``IGNORE_INDEX`` outside assistant replies."""

    input_ids: list[int]
    labels: list[int]


@dataclass
class Excluded:
    """An example left out of training, and why."""

    path: str
    line: int
    reason: str


def read_examples(path: str) -> list[Example]:
    """Read conversations from a JSONL (optionally gzipped) or JSON-array file."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        text = fh.read()
    return [Example(path, line, *to_messages(record)) for line, record in _records(text)]


def _records(text: str):
    """Yield ``(line, record)`` for a JSON array or for JSON lines."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        decoder = json.JSONDecoder()
        pos = len(text) - len(stripped) + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                return
            record, end = decoder.raw_decode(text, pos)
            yield text.count("\n", 0, pos) + 1, record
            pos = end
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, json.loads(line)


def to_messages(record: dict) -> tuple[list[dict], list | None]:
    """Convert an openai, sharegpt or alpaca record to ``(messages, tools)``."""
    if "messages" in record:
        messages = [dict(m, content=_text(m.get("content"))) for m in record["messages"]]
    elif "conversations" in record:
        messages = [
            {"role": _SHAREGPT_ROLES.get(str(turn["from"]).lower(), turn["from"]), "content": _text(turn["value"])}
            for turn in record["conversations"]
        ]
    elif "instruction" in record:
        prompt = "\n\n".join(part for part in (record["instruction"], record.get("input")) if part)
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": record["output"]}]
        if record.get("system"):
            messages.insert(0, {"role": "system", "content": record["system"]})
    else:
        raise ValueError("record has no messages, conversations or instruction")
    return messages, record.get("tools")


def _text(content):
    """Join a list of text parts into one string; leave strings and None alone."""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def encode_example(tokenizer, example: Example) -> Encoded:
    """Tokenize one example with its chat template; only assistant replies carry labels."""
    input_ids: list[int] = []
    labels: list[int] = []
    for text, trainable in _segments(tokenizer, example):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids += ids
        labels += ids if trainable else [IGNORE_INDEX] * len(ids)
    return Encoded(input_ids, labels)


def _segments(tokenizer, example: Example) -> list[tuple[str, bool]]:
    """Split the rendered conversation into ``(text, trainable)`` pieces."""
    messages = example.messages

    def render(upto: int, generation_prompt: bool = False) -> str:
        try:
            return tokenizer.apply_chat_template(
                messages[:upto], tools=example.tools, tokenize=False, add_generation_prompt=generation_prompt
            )
        except Exception as exc:  # jinja raises its own errors, and templates raise on purpose
            raise TemplateError(f"{example.where}: the chat template failed: {exc}") from exc

    full = render(len(messages))
    segments: list[tuple[str, bool]] = []
    done = 0
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        prompt, turn = render(i, True), render(i + 1)
        if len(prompt) < done or not turn.startswith(prompt) or not full.startswith(turn):
            raise TemplateError(
                f"{example.where}: the chat template is not prefix-stable (rendering the conversation turn by "
                "turn does not reproduce the whole rendering), so the assistant tokens cannot be located; "
                "pass a template that is with --chat-template FILE"
            )
        segments += [(full[done : len(prompt)], False), (full[len(prompt) : len(turn)], message.get("weight", 1) != 0)]
        done = len(turn)
    segments.append((full[done:], False))
    return [(text, trainable) for text, trainable in segments if text]


def build_dataset(tokenizer, examples: list[Example], max_seq_len: int) -> tuple[list[Encoded], list[Excluded]]:
    """Encode examples; leave out and report those with nothing to learn or a reply cut by ``max_seq_len``."""
    kept: list[Encoded] = []
    excluded: list[Excluded] = []
    for example in examples:
        encoded = encode_example(tokenizer, example)
        trained = [i for i, label in enumerate(encoded.labels) if label != IGNORE_INDEX]
        if not trained:
            excluded.append(Excluded(example.path, example.line, "no assistant token to train on"))
        elif trained[-1] >= max_seq_len:
            excluded.append(
                Excluded(
                    example.path,
                    example.line,
                    f"an assistant reply would be cut by max_seq_len ({len(encoded.input_ids)} tokens > {max_seq_len})",
                )
            )
        else:
            del encoded.input_ids[max_seq_len:], encoded.labels[max_seq_len:]
            kept.append(encoded)
    return kept, excluded
