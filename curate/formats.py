"""Record formats (openai, sharegpt, alpaca, and field mappings of them): detection and canonical messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from curate.records import ROLES, Message

ROLE_ALIASES = {
    "human": "user",
    "usr": "user",
    "prompter": "user",
    "question": "user",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "ai": "assistant",
    "chatgpt": "assistant",
    "gpt4": "assistant",
    "answer": "assistant",
    "response": "assistant",
    "developer": "system",
    "sys": "system",
    "system_prompt": "system",
    "function": "tool",
    "observation": "tool",
    "ipython": "tool",
}


@dataclass(frozen=True)
class Format:
    """What one record format calls its parts, and which keys it defines."""

    name: str
    list_key: str | None
    role_key: str
    content_key: str
    record_keys: frozenset
    message_keys: frozenset
    native_roles: dict
    system_key: str | None = None  # a top-level system prompt beside the message list, or alpaca's system
    prompt_key: str = "instruction"  # alpaca-style fields
    input_key: str = "input"
    response_key: str = "output"
    base: str = ""  # the built-in format a field mapping starts from; empty for the built-ins

    @property
    def family(self) -> str:
        """openai, sharegpt or alpaca: the built-in format this one is, or maps."""
        return self.base or self.name

    @property
    def text_fields(self) -> tuple[str, ...]:
        """Alpaca-style top-level text fields: system, prompt, input, response."""
        return tuple(k for k in (self.system_key, self.prompt_key, self.input_key, self.response_key) if k)

    def map_role(self, raw: Any) -> tuple[str, bool, bool]:
        """(canonical role, known, is_alias) for a raw role value."""
        if not isinstance(raw, str):
            return str(raw), False, False
        if raw in self.native_roles:
            return self.native_roles[raw], True, False
        alias = ROLE_ALIASES.get(raw.strip().lower())
        if raw.strip().lower() in ROLES:
            return raw.strip().lower(), True, True
        if alias:
            return alias, True, True
        return raw, False, False


OPENAI = Format(
    "openai",
    "messages",
    "role",
    "content",
    frozenset({"messages", "tools", "parallel_tool_calls"}),
    frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "weight"}),
    {r: r for r in ROLES},
)
SHAREGPT = Format(
    "sharegpt",
    "conversations",
    "from",
    "value",
    frozenset({"conversations", "system", "tools", "id"}),
    frozenset({"from", "value", "weight"}),
    {
        "human": "user",
        "gpt": "assistant",
        "system": "system",
        "user": "user",
        "assistant": "assistant",
        "tool": "tool",
        "observation": "tool",
        "function_call": "assistant",
    },
    system_key="system",
)
ALPACA = Format(
    "alpaca",
    None,
    "",
    "",
    frozenset({"instruction", "input", "output", "system", "history"}),
    frozenset(),
    {},
    system_key="system",
)
BUILTIN = {f.name: f for f in (OPENAI, SHAREGPT, ALPACA)}


class _Formats(dict):
    """Formats by name; a field-mapped format's name describes it, so any process can rebuild it."""

    def __missing__(self, name: str) -> Format:
        family, sep, body = name.partition(":")
        if not sep or family not in BUILTIN:
            raise KeyError(name)
        fmt = mapped_format(json.loads(body), family)
        self[name] = fmt
        return fmt


FORMATS = _Formats(BUILTIN)


LIST_FIELDS = ("messages", "role", "content", "roles")
FLAT_FIELDS = ("prompt", "input", "response")
FIELD_KEYS = LIST_FIELDS + FLAT_FIELDS + ("system",)


class FieldMappingError(ValueError):
    """A `[fields]` mapping that cannot describe a format."""


def field_mapping(fields: dict, base: str | None = None) -> tuple[str, dict]:
    """(family, normalized mapping) for a `[fields]` table, or FieldMappingError naming the problem.

    Keys: `messages`, `role`, `content` (a message list's key and its messages' keys),
    `prompt`, `input`, `response` (alpaca-style columns), `system`, and `roles`
    (canonical role -> the dataset's value or values).
    """
    unknown = sorted(set(fields) - set(FIELD_KEYS))
    if unknown:
        raise FieldMappingError(f"unknown field {unknown[0]!r} (fields: {', '.join(FIELD_KEYS)})")
    mapping: dict = {}
    for key, value in fields.items():
        if key == "roles":
            mapping[key] = _role_values(value)
        elif not isinstance(value, str) or not value.strip():
            raise FieldMappingError(f"field {key!r} must name a column (a non-empty string), got {value!r}")
        else:
            mapping[key] = value
    listy, flat = [k for k in LIST_FIELDS if k in mapping], [k for k in FLAT_FIELDS if k in mapping]
    if listy and flat:
        raise FieldMappingError(
            f"fields {listy[0]!r} (a message list) and {flat[0]!r} (alpaca-style columns) cannot be mixed"
        )
    family = base or ("alpaca" if flat else "openai")
    if family == "alpaca" and listy:
        raise FieldMappingError(f"field {listy[0]!r} needs a message-list format, not alpaca")
    if family != "alpaca" and flat:
        raise FieldMappingError(f"field {flat[0]!r} needs the alpaca format, not {family}")
    return family, mapping


def _role_values(value) -> dict:
    if not isinstance(value, dict):
        raise FieldMappingError(f"fields.roles must be a table (role = [values]), got {value!r}")
    out = {}
    for role, raw in value.items():
        if role not in ROLES:
            raise FieldMappingError(f"fields.roles: {role!r} is not a role ({', '.join(ROLES)})")
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise FieldMappingError(f"fields.roles.{role} must be a string or a list of strings, got {raw!r}")
        out[role] = sorted(set(values))
    return out


def mapped_format(mapping: dict, family: str) -> Format:
    """The built-in format `family` with its keys and role values renamed by a normalized mapping."""
    base = BUILTIN[family]
    name = f"{family}:{json.dumps(mapping, sort_keys=True, separators=(',', ':'), ensure_ascii=False)}"
    if family == "alpaca":
        prompt, extra = mapping.get("prompt", base.prompt_key), mapping.get("input", base.input_key)
        response, system = mapping.get("response", base.response_key), mapping.get("system", base.system_key)
        record_keys = base.record_keys - set(base.text_fields) | {prompt, extra, response, system}
        return replace(
            base,
            name=name,
            base=family,
            record_keys=frozenset(record_keys),
            system_key=system,
            prompt_key=prompt,
            input_key=extra,
            response_key=response,
        )
    list_key = mapping.get("messages", base.list_key)
    role_key, content_key = mapping.get("role", base.role_key), mapping.get("content", base.content_key)
    system_key = mapping.get("system", base.system_key)
    record_keys = (base.record_keys - {base.list_key, base.system_key}) | {list_key} | ({system_key} - {None})
    message_keys = (base.message_keys - {base.role_key, base.content_key}) | {role_key, content_key}
    roles = dict(base.native_roles)
    for role, values in mapping.get("roles", {}).items():
        roles.update({v: role for v in values})
    return replace(
        base,
        name=name,
        base=family,
        list_key=list_key,
        role_key=role_key,
        content_key=content_key,
        record_keys=frozenset(record_keys),
        message_keys=frozenset(message_keys),
        native_roles=roles,
        system_key=system_key,
    )


def format_name(fields: dict, base: str | None) -> str | None:
    """The name a run's records are read with: `base`, or the field mapping of it (FieldMappingError if bad)."""
    if not fields:
        return base
    family, mapping = field_mapping(fields, base)
    return FORMATS[mapped_format(mapping, family).name].name


def detect(data: Any) -> str | None:
    """The format a parsed record looks like, or None."""
    if not isinstance(data, dict):
        return None
    if "messages" in data:
        return "openai"
    if "conversations" in data:
        return "sharegpt"
    if "instruction" in data or "output" in data:
        return "alpaca"
    return None


def to_messages(data: Any, fmt: Format) -> list[Message] | None:
    """Canonical messages, leniently: None when there is no usable message list at all."""
    if not isinstance(data, dict):
        return None
    if fmt.list_key is None:
        return _alpaca(data, fmt)
    items = data.get(fmt.list_key)
    if not isinstance(items, list) or not items:
        return None
    messages = []
    if fmt.system_key and isinstance(data.get(fmt.system_key), str):
        system = data[fmt.system_key]
        messages.append(Message("system", system, "/" + fmt.system_key, raw=system))
    base = "/" + fmt.list_key
    role_key, content_key, native = fmt.role_key, fmt.content_key, fmt.native_roles
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        get = item.get
        raw_role = get(role_key)
        if type(raw_role) is str and raw_role in native:  # the common case, without map_role's call
            role, known, alias = native[raw_role], True, False
        else:
            role, known, alias = fmt.map_role(raw_role)
        messages.append(
            Message(
                role,
                get(content_key),
                f"{base}/{i}",
                role_key,
                content_key,
                item,
                known,
                alias,
                get("weight"),
                get("tool_calls") or (item if raw_role == "function_call" else None),
                get("tool_call_id"),
            )
        )
    return messages


def _alpaca(data: dict, fmt: Format = ALPACA) -> list[Message] | None:
    instruction, output = data.get(fmt.prompt_key), data.get(fmt.response_key)
    if instruction is None and output is None:
        return None
    messages = []
    if fmt.system_key and isinstance(data.get(fmt.system_key), str):
        messages.append(Message("system", data[fmt.system_key], "/" + fmt.system_key))
    prompt, extra = instruction, data.get(fmt.input_key)
    if isinstance(instruction, str) and isinstance(extra, str) and extra.strip():
        prompt = f"{instruction}\n\n{extra}"
    messages.append(Message("user", prompt, "/" + fmt.prompt_key))
    if output is not None:
        messages.append(Message("assistant", output, "/" + fmt.response_key))
    return messages


TEXT_FIELD_ROLES = {
    "question": "user",
    "prompt": "user",
    "input": "user",
    "instruction": "user",
    "query": "user",
    "problem": "user",
    "context": "user",
    "text": "user",
    "answer": "assistant",
    "output": "assistant",
    "response": "assistant",
    "solution": "assistant",
    "completion": "assistant",
    "target": "assistant",
    "label": "assistant",
}


def reference_messages(data: Any) -> list[Message] | None:
    """Messages for a reference (benchmark) record: any known format, else its text fields."""
    name = detect(data)
    if name:
        msgs = to_messages(data, FORMATS[name])
        if msgs:
            return msgs
    if not isinstance(data, dict):
        return None
    messages = []
    for key, value in data.items():
        if isinstance(value, str) and value.strip():
            role = TEXT_FIELD_ROLES.get(key.lower(), "user")
            messages.append(Message(role, value, f"/{key}"))
    messages.sort(key=lambda m: m.role == "assistant")
    return messages or None
