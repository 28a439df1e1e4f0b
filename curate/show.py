"""`curate lint --show-settings` and `--show-files`: what a run would use, without linting."""

from __future__ import annotations

from curate.config import Config, describe_origin, disabled_safety_rules
from curate.registry import load_rules


def settings_text(cfg: Config) -> str:
    """The configuration file used (and how it was found), its hash, the selected rules and their options."""
    rules = load_rules()
    codes = cfg.selected()
    lines = [
        f"config: {describe_origin(cfg)}",
        f"settings sha256: {cfg.digest()}",
        f"format: {cfg.format or 'detected per file'}",
        f"fail-on: {cfg.fail_on}",
    ]
    for name in ("splits", "per_file_ignores", "exclude", "extend_exclude", "paths", "fields"):
        value = getattr(cfg, name, None)
        if value:
            lines.append(f"{name.replace('_', '-')}: {value}")
    lines += [f"safety rules off: {line}" for line in disabled_safety_rules(cfg)]
    lines.append(f"rules: {len(codes)} selected")
    for code in codes:
        opts = cfg.options_for(code)
        shown = "  " + " ".join(f"{k}={v!r}" for k, v in opts.items()) if opts else ""
        severity = cfg.severity.get(code, rules[code].severity)
        lines.append(f"  {code}  {rules[code].name:<24} {severity:<8}{shown}".rstrip())
    return "\n".join(lines) + "\n"


def files_text(paths, cfg: Config, splits: dict, references) -> str:
    """Every file a lint would read: path, format, split and record count (a lint that runs no rule)."""
    from dataclasses import replace

    from curate.engine import lint_paths
    from curate.output.common import inert

    files = lint_paths(list(paths), replace(cfg, select=[], extend_select=[]), splits, references).files
    width = max((len(inert(f.path)) for f in files), default=0)
    rows = [f"{inert(f.path):<{width}}  {f.format:<10} {f.split:<9} {f.records} records" for f in files]
    total = sum(f.records for f in files)
    return "\n".join(rows + [f"{len(files)} files, {total} records"]) + "\n"
