"""Configuration from `[tool.curate]` in pyproject.toml or `curate.toml`, validated strictly.

Globs in `splits`, `per-file-ignores` and `exclude` match paths relative to the
directory of the config file that declares them, however a path was typed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field

from curate.diagnostics import SEVERITIES
from curate.errors import CurateError
from curate.formats import BUILTIN
from curate.reader import DEFAULT_MAX_RECORD_BYTES
from curate.split_names import ASSIGNABLE

_CODES = {"type": "array", "items": {"type": "string"}}
_GLOBS = {"type": "array", "items": {"type": "string", "minLength": 1}}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "select": _CODES,
        "ignore": _CODES,
        "extend-select": _CODES,
        "fail-on": {"enum": list(SEVERITIES)},
        # a built-in format; a field-mapped one (`alpaca:{...}`, as a certificate records it) also names its base
        "format": {"type": "string", "pattern": f"^({'|'.join(BUILTIN)})(:.*)?$"},
        "tokenizer": {"type": "string"},
        "max-record-bytes": {"type": "integer", "minimum": 1024},
        "exclude": _CODES,
        "extend-exclude": _CODES,
        "per-file-ignores": {"type": "object", "additionalProperties": _CODES},
        "severity": {"type": "object", "additionalProperties": {"enum": list(SEVERITIES)}},
        "splits": {"type": "object", "additionalProperties": _CODES, "propertyNames": {"enum": list(ASSIGNABLE)}},
        "rules": {"type": "object", "additionalProperties": {"type": "object"}},
        "paths": _GLOBS,
        "fields": {"type": "object"},
        "train": {"type": "object"},
    },
}

# how the config file was found: Config.found_by
EXPLICIT, CWD, UPWARD, DEFAULTS = "--config", "working directory", "upward search", "defaults"
SAFETY_FAMILIES = ("F", "L", "S")


@dataclass
class Config:
    """Lint settings; defaults run every rule at its default severity."""

    select: list = field(default_factory=lambda: ["ALL"])
    ignore: list = field(default_factory=list)
    extend_select: list = field(default_factory=list)
    fail_on: str = "error"
    format: str | None = None
    tokenizer: str | None = None
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    exclude: list | None = None  # None: discovery's default list; globs relative to the config file
    extend_exclude: list = field(default_factory=list)
    per_file_ignores: dict = field(default_factory=dict)
    severity: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    paths: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    source: str | None = None
    found_by: str = DEFAULTS
    base_dir: str = field(default_factory=os.getcwd)
    file_sha256: str | None = None

    @classmethod
    def from_table(cls, table: dict, source: str, found_by: str = EXPLICIT) -> Config:
        table = _hyphenate(table)
        import jsonschema  # only where a configuration file is read: slow to import

        try:
            jsonschema.validate(table, SCHEMA)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise CurateError(
                f"{source}: invalid configuration{' at ' + where if where else ''}: {exc.message}"
            ) from None
        cfg = cls(
            source=source,
            found_by=found_by,
            base_dir=_real_dir(os.path.dirname(os.path.abspath(source))),
            **{k.replace("-", "_"): v for k, v in table.items()},
        )
        cfg.rules = _validate_rule_options(cfg, source)
        cfg.severity = {_code(k, source): v for k, v in cfg.severity.items()}
        cfg.set_format(cfg.format)
        return cfg

    def set_format(self, base: str | None, fields: dict | None = None) -> None:
        """Read records as `base` (None: detected), mapped by `[fields]` plus `fields` (e.g. from --field)."""
        from curate.formats import FieldMappingError, format_name

        self.fields = {**self.fields, **(fields or {})}
        try:
            self.format = format_name(self.fields, base.partition(":")[0] if base else None)
        except FieldMappingError as exc:
            raise CurateError(f"{self.source or 'command line'}: [fields]: {exc}") from None

    def relpath(self, path: str) -> str:
        """`path` relative to the config file's directory, with POSIX separators, however it was typed."""
        absolute = os.path.join(_real_dir(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
        rel = os.path.relpath(absolute, self.base_dir)
        return rel.replace(os.sep, "/")

    def matches(self, path: str, pattern: str) -> bool:
        """Whether a config glob matches `path`: the path relative to the config directory, one of
        its parent folders, or (a pattern without `/`) any file or folder name along it."""
        rel = self.relpath(path)
        pattern = pattern.replace(os.sep, "/")
        if os.path.isabs(pattern):
            pattern = os.path.relpath(pattern, self.base_dir).replace(os.sep, "/")
        pattern = pattern.removeprefix("./").rstrip("/")
        parts = rel.split("/")
        candidates = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
        if "/" not in pattern:
            candidates += parts
        patterns = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]  # `**/` may match no folder
        return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)

    def split_of(self, path: str) -> str | None:
        """The split a `splits` glob gives `path`, or None."""
        for name, patterns in self.splits.items():
            if any(self.matches(path, p) for p in patterns):
                return name
        return None

    def dataset_paths(self) -> list[str]:
        """The configured `paths`, as paths usable from the working directory."""
        return [os.path.relpath(os.path.join(self.base_dir, p)) for p in self.paths]

    def selected(self) -> list[str]:
        """Rule codes to run: select + extend-select, minus ignore."""
        from curate.registry import select_rules

        chosen = set(select_rules(self.select)) | set(select_rules(self.extend_select))
        return sorted(chosen - set(select_rules(self.ignore)))

    def ignored_in(self, path: str) -> set[str]:
        """Codes ignored for one file by per-file-ignores (see `matches`)."""
        from curate.registry import select_rules

        out: set[str] = set()
        for pattern, codes in self.per_file_ignores.items():
            if self.matches(path, pattern):
                out |= set(select_rules(codes))
        return out

    def options_for(self, code: str) -> dict:
        from curate.registry import load_rules

        return {**load_rules()[code].options, **self.rules.get(code, {})}

    def digest(self) -> str:
        """SHA-256 of the effective settings, for the certificate."""
        body = {k: v for k, v in self.__dict__.items() if k not in _NOT_SETTINGS}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


_NOT_SETTINGS = ("source", "train", "found_by", "base_dir", "file_sha256")


def _real_dir(path: str) -> str:
    return os.path.realpath(path or ".")


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
    from curate.rule_options import check_option

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
            clean[name] = check_option(code, name, value, allowed[name], source)
        out[code] = clean
    return out


CONFIG_NAMES = ("curate.toml", "pyproject.toml")


def find_config(start: str = ".") -> str | None:
    """The nearest curate.toml, or pyproject.toml with a [tool.curate] table, from `start` upwards."""
    d = os.path.abspath(start)
    while True:
        for name in CONFIG_NAMES:
            p = os.path.join(d, name)
            if os.path.isfile(p) and (name == "curate.toml" or _has_tool_curate(p)):
                return p
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _has_tool_curate(path: str) -> bool:
    """Whether a pyproject.toml holds curate's settings; a broken one that mentions curate counts (its
    error is then reported, rather than the settings silently skipped)."""
    try:
        data = _read_bytes(path)
    except CurateError:
        return False
    try:
        tool = _read_toml(path, data).get("tool", {})
    except CurateError:
        return b"curate" in data.replace(b"\x00", b"")  # UTF-16 puts NULs between the letters
    return not isinstance(tool, dict) or "curate" in tool  # `tool` that is no table breaks PEP 518: say so


def _read_toml(path: str, data: bytes | None = None) -> dict:
    if sys.version_info >= (3, 11):  # imported here: most runs read no config file
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    if data is None:
        data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        bom = data.startswith((b"\xff\xfe", b"\xfe\xff"))
        raise CurateError(f"{path}: config is not UTF-8{' (it is UTF-16)' if bom else ''}; save it as UTF-8") from None
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise CurateError(f"{path}: invalid TOML: {exc}") from None


def _table(path: str, doc: dict) -> dict:
    """The curate settings of a parsed config file."""
    if os.path.basename(path) != "pyproject.toml":
        if "tool" in doc and isinstance(doc["tool"], dict) and "curate" in doc["tool"]:
            raise CurateError(
                f"{path}: a curate.toml holds the settings at the top level, not under "
                "[tool.curate]: drop the `tool.curate.` prefix from its tables "
                "(e.g. [tool.curate.rules.D002] becomes [rules.D002])"
            )
        return doc
    tool = doc.get("tool", {})
    if not isinstance(tool, dict):
        raise CurateError(f"{path}: `tool` must be a table, got {type(tool).__name__}")
    table = tool.get("curate", {})
    if not isinstance(table, dict):
        raise CurateError(f"{path}: [tool.curate] must be a table, got {type(table).__name__}")
    return table


def load_config(path: str | None = None, start: str = ".") -> Config:
    """Load the config file given, or the one found from `start` upwards, or defaults."""
    found_by = EXPLICIT
    if path is None:
        path = find_config(start)
        if path is None:
            return Config()
        here = os.path.realpath(os.path.dirname(path)) == os.path.realpath(start)
        found_by = CWD if here else UPWARD
    data = _read_bytes(path)
    cfg = Config.from_table(_table(path, _read_toml(path, data)), path, found_by)
    cfg.file_sha256 = hashlib.sha256(data).hexdigest()
    return cfg


def _read_bytes(path: str) -> bytes:
    from curate.locks import open_regular  # a FIFO or device is refused, not waited on

    try:
        with os.fdopen(open_regular(path, "config"), "rb") as f:
            return f.read()
    except OSError as exc:
        raise CurateError(f"{path}: cannot read config: {exc.strerror or exc}") from None


def describe_origin(cfg: Config) -> str:
    """Which configuration a run uses and how it was found, in one line (for reports and stderr)."""
    if cfg.source is None:
        return "no configuration file (defaults)"
    how = {
        EXPLICIT: "given with --config",
        CWD: "found in the working directory",
        UPWARD: f"found by upward search from {os.getcwd()}",
    }[cfg.found_by]
    return f"{cfg.source} ({how}, sha256 {cfg.file_sha256})"


def disabled_safety_rules(cfg: Config) -> list[str]:
    """How this configuration turns off format (F), leak (L) or secret (S) rules, one line each; [] if it does not."""
    from curate.registry import load_rules, select_rules

    safety = [c for c in load_rules() if c.startswith(SAFETY_FAMILIES)]
    selected = set(cfg.selected())
    out = []
    off = [c for c in safety if c not in selected]
    if off:
        out.append(f"not selected: {', '.join(off)}")
    for pattern, codes in cfg.per_file_ignores.items():
        hit = [c for c in safety if c in set(select_rules(codes))]
        if hit:
            out.append(f"per-file-ignores {pattern!r}: {'ALL' if 'ALL' in codes else ', '.join(hit)}")
    lowered = [
        c
        for c in safety
        if c in selected
        and cfg.severity.get(c, load_rules()[c].severity) != "error"
        and load_rules()[c].severity == "error"
    ]
    if lowered:
        out.append(f"severity lowered below error: {', '.join(lowered)}")
    return out
