"""F004, F007: record shapes, judged per file: a shape or key a file repeats is one finding, with its count."""

from __future__ import annotations

from curate.diagnostics import Finding
from curate.formats import FORMATS, detect
from curate.quoting import pointer_key, short
from curate.registry import dataset_rule, feature
from curate.rules.format import missing_messages

_KEYS_SHOWN = 6


def _unrecognised(data: dict, fmt) -> bool:
    """A record with none of the keys of any known format (`{"question", "answer"}`), nor those a field
    mapping names (its message list, or its prompt or response column)."""
    if fmt.base:
        return (
            (fmt.list_key not in data)
            if fmt.list_key
            else (fmt.prompt_key not in data and fmt.response_key not in data)
        )
    return detect(data) is None and (fmt.list_key is None or fmt.list_key not in data)


def _unknown_keys(data: dict, fmt, allowed: set) -> list[tuple[str, str, int]]:
    """(label, pointer, messages holding it) for each unknown record key, then each unknown message key."""
    out = [
        (f"record key {short(key)} for {fmt.name} records", f"/{pointer_key(key)}", 0)
        for key in data
        if key not in fmt.record_keys and key not in allowed
    ]
    items = data.get(fmt.list_key) if fmt.list_key else None
    if isinstance(items, list):
        first: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            if isinstance(item, dict):
                for key in item:
                    if key not in fmt.message_keys and key not in allowed:
                        first.setdefault(key, [i, 0])[1] += 1
        out += [
            (f"message key {short(key)} for {fmt.name} messages", f"/{fmt.list_key}/{at}/{pointer_key(key)}", n)
            for key, (at, n) in first.items()
        ]
    return out


@feature("record_shape")
def record_shape(records, ctx):
    """Per record: None, or (unrecognised keys or None, F004 findings, unknown keys) for a parsed JSON object."""
    allowed = set((ctx.options.get("F007") or {}).get("allowed_keys") or ())
    out = []
    for rec in records:
        data = rec.data
        if rec.split == "reference" or rec.error is not None or not isinstance(data, dict):
            out.append(None)
            continue
        fmt = FORMATS[rec.fmt]
        if _unrecognised(data, fmt):
            out.append((tuple(data)[: _KEYS_SHOWN + 1], (), ()))
            continue
        missing = tuple((f.message, f.pointer) for f in missing_messages(rec, None))
        out.append((None, missing, tuple(_unknown_keys(data, fmt, allowed))))
    return out


class _PerFile:
    """Collects, per file, the first line and count of each repeated finding."""

    def __init__(self, ctx):
        self.seen: dict[tuple[str, str], list] = {}  # (path, what) -> [line, pointer, count, detail]

    def add(self, ref, what: str, pointer: str | None, detail=None) -> None:
        entry = self.seen.setdefault((ref.path, what), [ref.line, pointer, 0, detail])
        entry[2] += 1


@dataset_rule("F004", "missing-messages", "error", features=("record_shape",))
class MissingMessages(_PerFile):
    """The record has no message list, or it is not a list, or it is empty.

    ## What it does
    Looks for the format's message list: `messages` (openai), `conversations`
    (sharegpt). An alpaca record needs both `instruction` and `output`
    (absent or null counts as missing). When the record looks like another
    format, the message says which. Records of a shape curate does not know
    at all (`{"question": ..., "answer": ...}`, `{"prompt", "completion"}`)
    are one finding per file, at the first of them, naming the keys seen and
    how many records have that shape.

    ## Why is this bad?
    A record without a conversation has nothing to train on; loaders crash on
    it or produce an empty example.

    ## Example
    ```json
    {"messages": []}
    {"prompt": "hi", "completion": "hello"}
    ```

    ## Fix
    Export the conversation under the format's key, or pass `--format` when
    the file was detected as the wrong format; convert a file of another
    shape (`question`/`answer`) to messages first.
    """

    def __init__(self, ctx):
        super().__init__(ctx)
        self.findings: list[Finding] = []

    def collect(self, refs, feats):
        for ref, shape in zip(refs, feats["record_shape"]):
            if shape is None:
                continue
            keys, missing, _ = shape
            if keys is not None:
                self.add(ref, "shape", None, {})
                seen = self.seen[(ref.path, "shape")][3]
                if len(seen) <= _KEYS_SHOWN:
                    seen.update(dict.fromkeys(keys))
            for message, pointer in missing:
                self.findings.append(Finding(message, pointer, path=ref.path, line=ref.line))

    def finish(self):
        yield from self.findings
        for (path, _), (line, _, count, keys) in self.seen.items():
            keys = list(keys)
            shown = ", ".join(f"`{k}`" for k in keys[:_KEYS_SHOWN]) + (", ..." if len(keys) > _KEYS_SHOWN else "")
            many = f"{count} records of this file have" if count > 1 else "the record has"
            yield Finding(
                f"unrecognised record shape: {many} no conversation in a known format "
                f"(keys {shown or 'none'}, first here); convert them to `messages`",
                path=path,
                line=line,
            )


@dataset_rule("F007", "unknown-key", "warning", features=("record_shape",), options={"allowed_keys": []})
class UnknownKey(_PerFile):
    """A record or message key the format does not define, reported once per file with its count.

    ## What it does
    Compares record keys and message keys with the format's: openai records
    `messages`, `tools`, `parallel_tool_calls` and messages `role`,
    `content`, `name`, `tool_calls`, `tool_call_id`, `weight`; sharegpt
    `conversations`, `system`, `tools`, `id` and `from`, `value`, `weight`;
    alpaca `instruction`, `input`, `output`, `system`, `history`. Each
    unknown key is one finding per file, at the first record that has it,
    with the number of records that have it (metadata such as `id` or
    `source` on every record is one finding, not thousands). Records of an
    unrecognised shape are F004's.

    Option `allowed_keys` (list of strings, default empty): extra keys to
    accept at record or message level, e.g. `["id", "source"]` in
    `[tool.curate.rules.F007]`.

    ## Why is this bad?
    Trainers ignore unknown keys, so what they hold (a misspelled `weight`, a
    `system_prompt`) silently does not take effect; some APIs reject them.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi", "wieght": 0}], "source": "crawl"}
    ```

    ## Fix
    Rename misspelled keys, move metadata out of the training file, or list
    the keys in `allowed_keys`.
    """

    def collect(self, refs, feats):
        for ref, shape in zip(refs, feats["record_shape"]):
            if shape is not None:
                for label, pointer, messages in shape[2]:
                    self.add(ref, label, pointer, messages)

    def finish(self):
        for (path, label), (line, pointer, count, messages) in self.seen.items():
            where = f" (in {messages} messages)" if messages > 1 else ""
            many = f", in {count} records of this file (first here)" if count > 1 else ""
            yield Finding(f"unknown {label}{where}{many}", pointer=pointer, path=path, line=line)
