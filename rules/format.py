"""F: is each line a well-formed record of its format."""

from __future__ import annotations

from curate.diagnostics import Finding
from curate.registry import record_rule


@record_rule("F001", "invalid-json", "error", requires="line")
def invalid_json(record, ctx):
    """The line does not parse as JSON.

    ## What it does
    Parses each line (or JSON array element) with a strict JSON parser. `NaN`,
    `Infinity`, trailing commas, single quotes and truncated lines all fail.

    ## Why is this bad?
    Training loaders either crash on the line or skip it silently, so the
    example you meant to train on is not there.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}
    ```

    ## Fix
    Repair the line by hand; `curate fix` never drops a line it cannot parse.
    """
    if record.error is not None:
        yield Finding(f"invalid JSON: {record.error}")


@record_rule("F002", "invalid-encoding", "error", requires="line")
def invalid_encoding(record, ctx):
    """The line is not clean UTF-8: invalid bytes, a byte order mark, or a NUL byte.

    ## What it does
    Checks the raw bytes of every line before parsing.

    ## Why is this bad?
    Invalid bytes become U+FFFD replacement characters, a BOM breaks strict
    JSON readers, and NUL bytes truncate strings in C-based tokenizers.

    ## Example
    A line saved as Latin-1: `{"content": "caf\\xe9"}`.

    ## Fix
    Re-encode the file as UTF-8 without BOM and remove NUL bytes.
    """
    if record.encoding_issue:
        yield Finding(f"invalid encoding: {record.encoding_issue}")


@record_rule("F003", "not-an-object", "error", requires="json")
def not_an_object(record, ctx):
    """The record is not a JSON object.

    ## What it does
    Requires each line to be a JSON object (`{...}`), not an array, string,
    number or null.

    ## Why is this bad?
    Every record format is an object; anything else is a broken export.

    ## Example
    ```json
    ["user", "hi", "assistant", "hello"]
    ```

    ## Fix
    Wrap the data in the format's object, e.g. `{"messages": [...]}`.
    """
    if not isinstance(record.data, dict):
        yield Finding(f"record is a JSON {_json_type(record.data)}, not an object")


def _json_type(value) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
