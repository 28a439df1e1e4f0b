"""Record formats (openai, sharegpt, alpaca): detection and conversion to canonical messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curate.records import ROLES, Message

ROLE_ALIASES = {
    "human": "user", "usr": "user", "prompter": "user", "question": "user",
    "gpt": "assistant", "bot": "assistant", "model": "assistant", "ai": "assistant",
    "chatgpt": "assistant", "gpt4": "assistant", "answer": "assistant", "response": "assistant",
    "developer": "system", "sys": "system", "system_prompt": "system",
    "function": "tool", "observation": "tool", "ipython": "tool",
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
    "openai", "messages", "role", "content",
    frozenset({"messages", "tools", "parallel_tool_calls"}),
    frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "weight"}),
    {r: r for r in ROLES},
)
SHAREGPT = Format(
    "sharegpt", "conversations", "from", "value",
    frozenset({"conversations", "system", "tools", "id"}),
    frozenset({"from", "value", "weight"}),
    {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant",
     "tool": "tool", "observation": "tool", "function_call": "assistant"},
)
ALPACA = Format(
    "alpaca", None, "", "",
    frozenset({"instruction", "input", "output", "system", "history"}),
    frozenset(),
    {},
)
FORMATS = {f.name: f for f in (OPENAI, SHAREGPT, ALPACA)}


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
    if fmt.name == "alpaca":
        return _alpaca(data)
    items = data.get(fmt.list_key)
    if not isinstance(items, list) or not items:
        return None
    messages = []
    if fmt.name == "sharegpt" and isinstance(data.get("system"), str):
        messages.append(Message("system", data["system"], "/system", raw=data["system"]))
    base = "/" + fmt.list_key
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        role, known, alias = fmt.map_role(item.get(fmt.role_key))
        messages.append(Message(
            role, item.get(fmt.content_key), f"{base}/{i}", fmt.role_key, fmt.content_key, raw=item, known_role=known, alias=alias, weight=item.get("weight"),
            tool_calls=item.get("tool_calls") or (item if item.get(fmt.role_key) == "function_call" else None),
            tool_call_id=item.get("tool_call_id"),
        ))
    return messages


def _alpaca(data: dict) -> list[Message] | None:
    instruction, output = data.get("instruction"), data.get("output")
    if instruction is None and output is None:
        return None
    messages = []
    if isinstance(data.get("system"), str):
        messages.append(Message("system", data["system"], "/system"))
    prompt = instruction
    if isinstance(instruction, str) and isinstance(data.get("input"), str) and data["input"].strip():
        prompt = f"{instruction}\n\n{data['input']}"
    messages.append(Message("user", prompt, "/instruction"))
    if output is not None:
        messages.append(Message("assistant", output, "/output"))
    return messages


TEXT_FIELD_ROLES = {
    "question": "user", "prompt": "user", "input": "user", "instruction": "user", "query": "user",
    "problem": "user", "context": "user", "text": "user",
    "answer": "assistant", "output": "assistant", "response": "assistant", "solution": "assistant",
    "completion": "assistant", "target": "assistant", "label": "assistant",
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
