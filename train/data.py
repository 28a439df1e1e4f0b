"""Training data: read conversations, format them with the chat template, mask the loss.

Every example is rendered with the tokenizer's own chat template. The loss mask
comes from rendering turn by turn: for assistant message ``i`` the text between
``messages[:i]`` rendered with a generation prompt and ``messages[:i+1]``
rendered without one is the assistant part (end-of-turn token included). Each
segment is tokenized on its own, so the mask is exact at token level and the
prompt tokens are the ones the model sees at inference.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.errors import CurateError
from curate.parse import parse
from curate.reader import FileInfo, read_file
from curate.records import Message
from curate.train.model import first_line

IGNORE_INDEX = -100


class TemplateError(CurateError):
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


def read_examples(path: str, snapshot=None) -> list[Example]:
    """Read a dataset file with the core reader (JSONL, gzip, JSON array; format detected as the lint does).

    With the gate's ``snapshot`` (curate.snapshot.Snapshot), the examples come from the bytes the gate
    hashed and linted, read with the lint's configuration (``format``) and parser.
    """
    if snapshot is not None:
        records = snapshot.records(path)
    else:
        records = (parse(record) for record in read_file(FileInfo(path, "train", ""), None, 0))
    return [
        Example(path, record.line, [_template_message(m) for m in record.messages], record.data.get("tools"))
        for record in records
    ]


def _template_message(message: Message) -> dict:
    """A canonical message as the chat template expects it (``role``, ``content`` and tool fields)."""
    out = {"role": message.role, "content": message.text}
    if message.tool_calls:
        out["tool_calls"] = message.tool_calls
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if isinstance(message.raw, dict) and "name" in message.raw:
        out["name"] = message.raw["name"]
    if message.weight is not None:
        out["weight"] = message.weight
    return out


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
            raise TemplateError(f"{example.where}: the chat template failed: {first_line(exc)}") from exc

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
