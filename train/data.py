"""Training data: read conversations, format them with the chat template, mask the loss.

Every example is rendered with the tokenizer's own chat template; the spans
that carry loss (assistant replies and their end-of-turn token) are located by
``curate.train.render``. Each segment is tokenized on its own, so the mask is
exact at token level.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.parse import parse
from curate.reader import FileInfo, read_file
from curate.records import Message
from curate.train.render import TemplateError, rendered_segments

__all__ = [
    "IGNORE_INDEX",
    "Dataset",
    "Encoded",
    "Example",
    "Excluded",
    "TemplateError",
    "build_dataset",
    "collect_dataset",
    "encode_example",
    "read_examples",
]

IGNORE_INDEX = -100


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
    path: str = ""
    line: int = 0


@dataclass
class Excluded:
    """An example left out of training, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


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
    for text, trainable in rendered_segments(tokenizer, example.messages, example.tools, example.where):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids += ids
        labels += ids if trainable else [IGNORE_INDEX] * len(ids)
    return Encoded(input_ids, labels)


@dataclass
class Dataset:
    """Encoded examples, those left out (with why), and those the template cannot render (as findings)."""

    kept: list[Encoded]
    excluded: list[Excluded]
    unrenderable: list[Excluded]


def build_dataset(tokenizer, examples: list[Example], max_seq_len: int) -> Dataset:
    """Encode every example; leave out those with nothing to learn or a reply cut by ``max_seq_len``.

    An example the chat template cannot render goes to ``unrenderable`` (a
    ``file:line`` finding): the caller refuses to train on a partly renderable set.
    """
    return collect_dataset(examples, [_encode_or_error(tokenizer, e) for e in examples], max_seq_len)


def _encode_or_error(tokenizer, example: Example) -> Encoded | TemplateError:
    try:
        return encode_example(tokenizer, example)
    except TemplateError as exc:
        return exc


def collect_dataset(examples: list[Example], results: list[Encoded | TemplateError], max_seq_len: int) -> Dataset:
    """Sort each example's encoding (or TemplateError) into kept, excluded and unrenderable, as ``build_dataset``."""
    result = Dataset([], [], [])
    for example, encoded in zip(examples, results):
        if isinstance(encoded, TemplateError):
            reason = str(encoded).removeprefix(f"{example.where}: ")
            result.unrenderable.append(Excluded(example.path, example.line, reason))
            continue
        encoded = Encoded(list(encoded.input_ids), list(encoded.labels), example.path, example.line)
        trained = [i for i, label in enumerate(encoded.labels) if label != IGNORE_INDEX]
        if not trained:
            result.excluded.append(Excluded(example.path, example.line, "no assistant token to train on"))
        elif trained[-1] >= max_seq_len:
            reason = f"an assistant reply would be cut by max_seq_len ({len(encoded.input_ids)} tokens > {max_seq_len})"
            result.excluded.append(Excluded(example.path, example.line, reason))
        else:
            del encoded.input_ids[max_seq_len:], encoded.labels[max_seq_len:]
            result.kept.append(encoded)
    return result
