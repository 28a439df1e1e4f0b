"""Messages as chat templates expect them: tool calls with object arguments, ShareGPT function calls mapped.

Chat templates write ``arguments | tojson``: an OpenAI-style JSON *string*
would be encoded a second time, so string arguments that hold a JSON object
become that object. A ShareGPT ``function_call`` turn (its value a JSON
``{"name", "arguments"}``) becomes an assistant turn with one tool call;
``observation`` turns are already tool turns.
"""

from __future__ import annotations

import json


class MessageError(ValueError):
    """A message that cannot be put in the shape chat templates expect."""


def normalize_messages(messages: list[dict]) -> list[dict]:
    """Copies of ``messages`` with tool calls in the standard shape."""
    return [_normalize(message) for message in messages]


def normalize_tools(tools):
    """Tool definitions: a JSON string (LLaMA-Factory's ShareGPT ``tools``) is parsed."""
    if isinstance(tools, str):
        try:
            tools = json.loads(tools) if tools.strip() else None
        except json.JSONDecodeError as exc:
            raise MessageError(f"the record's tools are not valid JSON: {exc.msg}") from exc
    return tools or None


def _normalize(message: dict) -> dict:
    out = dict(message)
    calls = out.get("tool_calls")
    if isinstance(calls, dict) and calls.get("from") == "function_call":
        out["tool_calls"] = [_sharegpt_call(out.get("content") or "")]
        out["content"] = ""
    elif isinstance(calls, list):
        out["tool_calls"] = [_openai_call(call) for call in calls]
    return out


def _sharegpt_call(value: str) -> dict:
    try:
        call = json.loads(value)
    except json.JSONDecodeError as exc:
        raise MessageError(f"a function_call turn is not JSON: {exc.msg}") from exc
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise MessageError('a function_call turn must be a JSON object {"name": ..., "arguments": {...}}')
    arguments = call.get("arguments", call.get("parameters", {}))
    return {"type": "function", "function": {"name": call["name"], "arguments": _arguments(arguments)}}


def _openai_call(call) -> dict:
    if not isinstance(call, dict):
        raise MessageError(f"a tool call must be an object, not {type(call).__name__}")
    call = dict(call)
    function = call.get("function")
    if isinstance(function, dict):
        call["function"] = {**function, "arguments": _arguments(function.get("arguments", {}))}
        call.setdefault("type", "function")
    elif "arguments" in call:
        call["arguments"] = _arguments(call["arguments"])
    return call


def _arguments(arguments):
    """A JSON string holding an object becomes the object; anything else is left as it is."""
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
        if isinstance(parsed, dict):
            return parsed
    return arguments
