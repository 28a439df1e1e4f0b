"""F: is each line a well-formed record of its format."""

from __future__ import annotations

from curate.diagnostics import Finding
from curate.edits import Edit
from curate.formats import FORMATS, detect
from curate.quoting import pointer_key, short
from curate.records import ROLES
from curate.registry import record_rule
from curate.scan import Trigger


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
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def calls_tool(item: dict) -> bool:
    """An assistant message that calls tools (`tool_calls`, or the legacy `function_call`)."""
    return bool(item.get("tool_calls") or item.get("function_call"))


def content_fields(data, fmt):
    """(holder, key, index) for every content field of a record's raw data.

    `holder[key]` is the content: the content of message `index`, or (index None) a
    top-level text field (alpaca fields, sharegpt's `system`). See `field_pointer`/`field_label`.
    """
    if not isinstance(data, dict):
        return
    if fmt.list_key is None:
        for key in fmt.text_fields:
            if key in data:
                yield data, key, None
        return
    if fmt.system_key and fmt.system_key in data:
        yield data, fmt.system_key, None
    items = data.get(fmt.list_key)
    if not isinstance(items, list):
        return
    key = fmt.content_key
    for i, item in enumerate(items):
        if isinstance(item, dict) and key in item:
            yield item, key, i


def field_pointer(fmt, key: str, index) -> str:
    return f"/{key}" if index is None else f"/{fmt.list_key}/{index}/{key}"


def field_label(fmt, holder: dict, key: str, index) -> str:
    """How messages name a content field: "assistant content", "`output`"."""
    if index is None:
        return f"`{key}`"
    role = holder.get(fmt.role_key)
    return f"{role[:20]} content" if isinstance(role, str) and role.strip() else "content"


def is_text_part(part) -> bool:
    return isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)


def missing_messages(record, ctx):
    """F004's findings for one record of a known shape (rules/shape.py reports them; unknown shapes per file)."""
    data = record.data
    if not isinstance(data, dict):
        return
    fmt = FORMATS[record.fmt]
    if fmt.list_key is None:
        missing = [k for k in (fmt.prompt_key, fmt.response_key) if data.get(k) is None]
        if missing:
            yield Finding(
                f"alpaca record has no {' and no '.join(f'`{k}`' for k in missing)}{_format_hint(data, fmt)}",
                f"/{missing[0]}",
            )
        return
    key, pointer = fmt.list_key, f"/{fmt.list_key}"
    if key not in data:
        keys = ", ".join(f"`{k}`" for k in list(data)[:5])
        yield Finding(f"no `{key}` list{_format_hint(data, fmt) or f' (record keys: {keys or None})'}", pointer)
    elif not isinstance(data[key], list):
        yield Finding(f"`{key}` is a JSON {_json_type(data[key])}, not a list", pointer)
    elif not data[key]:
        yield Finding(f"`{key}` is an empty list", pointer)


def _format_hint(data: dict, fmt) -> str:
    other = detect(data)
    if other and other != fmt.family:
        return f" (the record looks like {other}, the file was read as {fmt.name}: try --format {other})"
    return ""


@record_rule("F005", "malformed-message", "error", requires="json", trigger=Trigger(shape=True))
def malformed_message(record, ctx):
    """A message is not an object, or lacks its role or content.

    ## What it does
    Checks every item of the message list: it must be an object with a string
    role (`role`, or `from` in sharegpt) and a content (`content`/`value`).
    Content may be absent or null only in an assistant message that carries
    `tool_calls` (or the legacy `function_call`).

    ## Why is this bad?
    Chat templates index `message["role"]` and `message["content"]`; a
    missing key fails the whole batch, or drops the turn silently and shifts
    the roles of the rest.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}, "hello"]}
    ```

    ## Fix
    Restore the missing role or content, or remove the broken item.
    """
    data = record.data
    fmt = FORMATS[record.fmt]
    if not isinstance(data, dict) or fmt.list_key is None or not isinstance(data.get(fmt.list_key), list):
        return
    role_key, content_key = fmt.role_key, fmt.content_key
    for i, item in enumerate(data[fmt.list_key]):
        if not isinstance(item, dict):
            yield Finding(f"message {i} is a JSON {_json_type(item)}, not an object", f"/{fmt.list_key}/{i}")
            continue
        problems = []
        role = item.get(role_key)
        if role is None:
            problems.append(f"has no `{role_key}`" if role_key not in item else f"has a null `{role_key}`")
        elif not isinstance(role, str):
            problems.append(f"has a {_json_type(role)} `{role_key}` ({short(role)}), not a string")
        if item.get(content_key) is None and not calls_tool(item):
            problems.append(
                ("has no" if content_key not in item else "has a null")
                + f" `{content_key}`"
                + (" and no `tool_calls`" if fmt.family == "openai" else "")
            )
        if problems:
            yield Finding(f"message {i} {' and '.join(problems)}", f"/{fmt.list_key}/{i}")


SHAREGPT_SPELLING = {"user": "human", "assistant": "gpt", "system": "system", "tool": "tool"}


def _role_spellings(items: list, fmt) -> dict:
    """The spelling a role alias becomes: canonical in openai; in sharegpt, the spelling the record
    already uses for that role (not `function_call`), else human/gpt/system/tool."""
    if fmt.family != "sharegpt":
        return {r: r for r in ROLES}
    spelling = dict(SHAREGPT_SPELLING)
    seen = set()
    for item in items:
        raw = item.get(fmt.role_key) if isinstance(item, dict) else None
        if isinstance(raw, str) and raw in fmt.native_roles and raw != "function_call":
            canonical = fmt.native_roles[raw]
            if canonical not in seen:
                seen.add(canonical)
                spelling[canonical] = raw
    return spelling


def fix_role_aliases(data, fmt) -> list[Edit]:
    """Edits that rewrite role aliases to the format's spelling of their canonical role."""
    items = data.get(fmt.list_key) if fmt.list_key else None
    if not isinstance(items, list):
        return []
    spelling = None
    edits = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        role, _, alias = fmt.map_role(item.get(fmt.role_key))
        if alias:
            spelling = spelling or _role_spellings(items, fmt)
            edits.append(Edit((fmt.list_key, i, fmt.role_key), spelling[role]))
    return edits


@record_rule("F006", "unknown-role", "error", fix=fix_role_aliases, trigger=Trigger(shape=True))
def unknown_role(record, ctx):
    """A message has a role outside system, user, assistant and tool.

    ## What it does
    Checks each role against the format's roles: `system`, `user`,
    `assistant`, `tool` (openai); `human`, `gpt`, `system`, `function_call`,
    `observation`, `tool` and the openai names (sharegpt). Known aliases
    (`human`, `gpt`, `bot`, `model`, `User`, `developer`, `function`...) are
    reported as fixable; any other role is not.

    ## Why is this bad?
    Chat templates raise on roles they do not know, or render them as plain
    text, so the turn is trained with the wrong speaker or not at all.

    ## Example
    ```json
    {"messages": [{"role": "human", "content": "hi"}, {"role": "narrator", "content": "..."}]}
    ```

    ## Fix
    `curate fix` rewrites aliases: to the canonical role in openai; in
    sharegpt to the spelling the record already uses for that role, else
    `human`, `gpt`, `system` or `tool`. Map other roles by hand.
    """
    fmt = FORMATS[record.fmt]
    spelling = None
    for m in record.messages:
        if not isinstance(m.raw, dict):
            continue
        raw = m.raw.get(fmt.role_key)
        if not isinstance(raw, str):
            continue  # F005
        if not m.known_role:
            expected = ", ".join(fmt.native_roles)
            yield Finding(f"unknown role {short(raw)}, not fixable (expected one of {expected})", m.role_pointer)
        elif m.alias:
            spelling = spelling or _role_spellings(record.data[fmt.list_key], fmt)
            yield Finding(f"role {short(raw)} is an alias of {short(spelling[m.role])} (fixable)", m.role_pointer)


def _content_problem(value) -> tuple[str, str] | None:
    """(problem, pointer suffix) when a content value is neither a string nor a list of text parts."""
    if isinstance(value, str):
        return None
    if not isinstance(value, list):
        return f"is a JSON {_json_type(value)}, not a string", ""
    for j, part in enumerate(value):
        if is_text_part(part):
            continue
        if not isinstance(part, dict):
            return f"part {j} is a JSON {_json_type(part)}, not a text part object", f"/{j}"
        if part.get("type") != "text":
            return f"part {j} has type {short(part.get('type'))}; only text parts are supported", f"/{j}"
        return f"part {j} has no string `text`", f"/{j}"
    return None


@record_rule("F008", "bad-content-type", "error", trigger=Trigger(shape=True))
def bad_content_type(record, ctx):
    """Content is not a string or a list of text parts, or `weight` is not 0 or 1.

    ## What it does
    Content must be a string or a list of `{"type": "text", "text": "..."}`
    parts; alpaca fields and sharegpt's `system` likewise. A message `weight`
    must be the number 0 or 1. Null content is F005's concern.

    ## Why is this bad?
    Templates concatenate content as text: a number, an object or an image
    part crashes them or is rendered as its Python repr. Trainers read
    `weight` as a loss mask, and anything but 0/1 is rejected or misread.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "ok", "weight": 2}]}
    ```

    ## Fix
    Convert the content to text; set `weight` to 0 (do not train on this
    turn) or 1.
    """
    data = record.data
    fmt = FORMATS[record.fmt]
    for holder, key, index in content_fields(data, fmt):
        value = holder[key]
        if value is None or isinstance(value, str):
            continue
        problem = _content_problem(value)
        if problem:
            yield Finding(
                f"{field_label(fmt, holder, key, index)} {problem[0]}", field_pointer(fmt, key, index) + problem[1]
            )
    items = data.get(fmt.list_key) if fmt.list_key else None
    for i, item in enumerate(items if isinstance(items, list) else ()):
        if isinstance(item, dict) and "weight" in item:
            w = item["weight"]
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w not in (0, 1):
                yield Finding(f"`weight` is {short(w)}; it must be 0 or 1", f"/{fmt.list_key}/{i}/weight")


@record_rule("F012", "duplicate-key", "error", requires="json")
def duplicate_key(record, ctx):
    """A JSON object repeats a key (readers disagree on which value wins).

    ## What it does
    Reports every key that appears more than once in one JSON object of the
    record, at any depth, naming the key and the JSON pointer of the object.

    ## Why is this bad?
    JSON leaves repeated keys undefined: Python keeps the last value, other
    parsers the first or reject the record. The lint may check one `messages`
    while a trainer reads another, which can hide a secret or a broken turn.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "hi"}], "messages": [{"role": "user", "content": "sk-..."}]}
    ```

    ## Fix
    Keep one of the values by hand. `curate fix` does not edit a record with
    repeated keys, since it cannot know which value is meant.
    """
    for pointer, key in record.duplicate_keys:
        where = f"the object at {pointer}" if pointer else "the record object"
        yield Finding(f"key {short(key)} appears more than once in {where}", f"{pointer}/{pointer_key(key)}")
