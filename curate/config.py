"""Configuration from `[tool.curate]` in pyproject.toml or `curate.toml`, validated strictly."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field

import jsonschema

from curate.diagnostics import SEVERITIES
from curate.errors import CurateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_CODES = {"type": "array", "items": {"type": "string"}}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "select": _CODES,
        "ignore": _CODES,
        "extend-select": _CODES,
        "fail-on": {"enum": list(SEVERITIES)},
        "format": {"enum": ["openai", "sharegpt", "alpaca"]},
        "tokenizer": {"type": "string"},
        "exclude": _CODES,
        "extend-exclude": _CODES,
        "per-file-ignores": {"type": "object", "additionalProperties": _CODES},
        "severity": {"type": "object", "additionalProperties": {"enum": list(SEVERITIES)}},
        "splits": {"type": "object", "additionalProperties": _CODES,
                   "propertyNames": {"enum": ["train", "eval", "test", "reference"]}},
        "rules": {"type": "object", "additionalProperties": {"type": "object"}},
        "train": {"type": "object"},
    },
}


@dataclass
class Config:
    """Lint settings; defaults run every rule at its default severity."""

    select: list = field(default_factory=lambda: ["ALL"])
    ignore: list = field(default_factory=list)
    extend_select: list = field(default_factory=list)
    fail_on: str = "error"
    format: str | None = None
    tokenizer: str | None = None
    exclude: list | None = None  # None: discovery's default list; globs relative to the config file
    extend_exclude: list = field(default_factory=list)
    per_file_ignores: dict = field(default_factory=dict)
    severity: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    source: str | None = None

    @classmethod
    def from_table(cls, table: dict, source: str) -> "Config":
        table = _hyphenate(table)
        try:
            jsonschema.validate(table, SCHEMA)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise CurateError(f"{source}: invalid configuration{' at ' + where if where else ''}: {exc.message}") from None
        cfg = cls(source=source, **{k.replace("-", "_"): v for k, v in table.items()})
        cfg.rules = _validate_rule_options(cfg, source)
        cfg.severity = {_code(k, source): v for k, v in cfg.severity.items()}
        return cfg

    def selected(self) -> list[str]:
        """Rule codes to run: select + extend-select, minus ignore."""
        from curate.registry import select_rules
        chosen = set(select_rules(self.select)) | set(select_rules(self.extend_select))
        return sorted(chosen - set(select_rules(self.ignore)))

    def ignored_in(self, path: str) -> set[str]:
        """Codes ignored for one file by per-file-ignores (globs match the path or its name)."""
        from curate.registry import select_rules
        out: set[str] = set()
        norm = os.path.normpath(path)
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(norm, os.path.normpath(pattern)) or fnmatch.fnmatch(os.path.basename(norm), pattern):
                out |= set(select_rules(codes))
        return out

    def options_for(self, code: str) -> dict:
        from curate.registry import load_rules
        return {**load_rules()[code].options, **self.rules.get(code, {})}

    def digest(self) -> str:
        """SHA-256 of the effective settings, for the certificate."""
        body = {k: v for k, v in self.__dict__.items() if k not in ("source", "train")}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _hyphenate(table: dict) -> dict:
    return {k.replace("_", "-"): v for k, v in table.items()}


def _code(key: str, source: str) -> str:
    """A rule code from a code or rule name."""
    from curate.registry import load_rules
    rules = load_rules()
    if key.upper() in rules:
        return key.upper()
    for rule in rules.values():
        if rule.name == key:
            return rule.code
    raise CurateError(f"{source}: unknown rule {key!r}")


def _validate_rule_options(cfg: Config, source: str) -> dict:
    from curate.registry import load_rules
    rules = load_rules()
    out = {}
    for key, opts in cfg.rules.items():
        code = _code(key, source)
        allowed = rules[code].options
        clean = {}
        for name, value in opts.items():
            name = name.replace("-", "_")
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise CurateError(f"{source}: unknown option {name!r} for {code} (options: {known})")
            default = allowed[name]
            if default is not None and not isinstance(value, type(default)) and not (
                    isinstance(default, float) and isinstance(value, int)):
                raise CurateError(f"{source}: {code}.{name} must be {type(default).__name__}, got {value!r}")
            clean[name] = value
        out[code] = clean
    return out


def find_config(start: str = ".") -> str | None:
    """The nearest curate.toml, or pyproject.toml with a [tool.curate] table, from `start` upwards."""
    d = os.path.abspath(start)
    while True:
        for name in ("curate.toml", "pyproject.toml"):
            p = os.path.join(d, name)
            if os.path.isfile(p) and (name == "curate.toml" or _has_tool_curate(p)):
                return p
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _has_tool_curate(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return "curate" in tomllib.load(f).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False


def load_config(path: str | None = None) -> Config:
    """Load the config file given, or the one found from the working directory, or defaults."""
    path = path or find_config()
    if path is None:
        return Config()
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise CurateError(f"{path}: cannot read config: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CurateError(f"{path}: invalid TOML: {exc}") from None
    table = doc.get("tool", {}).get("curate", {}) if os.path.basename(path) == "pyproject.toml" else doc
    if not isinstance(table, dict):
        raise CurateError(f"{path}: [tool.curate] must be a table")
    return Config.from_table(table, path)
