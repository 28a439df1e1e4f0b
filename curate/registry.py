"""The rule registry: a rule is one documented function (record rules) or class (dataset rules)."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from curate.diagnostics import SEVERITIES


@dataclass
class Rule:
    """A registered rule; its docstring is its documentation (summary line, then markdown sections)."""

    code: str
    name: str
    severity: str
    kind: str  # "record" or "dataset"
    impl: Any
    doc: str
    requires: str = "conversation"  # record rules: "line", "json" or "conversation"
    options: dict = field(default_factory=dict)
    features: tuple = ()
    fix: Callable | str | None = None  # fn(data, fmt) -> list[curate.edits.Edit], or "remove"
    unsafe_fix: bool = False
    trigger: Any = None  # record rules: a curate.scan.Trigger, what a record must hold for the rule to fire

    @property
    def summary(self) -> str:
        return self.doc.split("\n", 1)[0].strip()

    def section(self, title: str) -> str:
        """The body of one `## Title` section of the documentation."""
        m = re.search(rf"^## {re.escape(title)}\s*\n(.*?)(?=^## |\Z)", self.doc, re.M | re.S)
        return m.group(1).strip() if m else ""


RULES: dict[str, Rule] = {}
FEATURES: dict[str, Callable] = {}


def _register(rule: Rule) -> None:
    if rule.code in RULES:
        raise RuntimeError(f"rule {rule.code} registered twice")
    if rule.severity not in SEVERITIES:
        raise RuntimeError(f"rule {rule.code}: bad severity {rule.severity}")
    if not rule.doc:
        raise RuntimeError(f"rule {rule.code} has no documentation")
    RULES[rule.code] = rule


def record_rule(
    code: str,
    name: str,
    severity: str,
    *,
    requires: str = "conversation",
    options: dict | None = None,
    fix: Callable | str | None = None,
    unsafe_fix: bool = False,
    trigger=None,
):
    """Register `fn(record, ctx) -> Iterable[Finding]`, run once per record.

    `requires` picks the records it sees: "line" every line, "json" every parsed line,
    "conversation" (default) every record with a message list. `trigger` (a `curate.scan.Trigger`)
    says what a conversation must hold for the rule to find anything: the engine's fused scan
    then runs the rule only on the records where it fires.
    """

    def deco(fn):
        _register(
            Rule(
                code,
                name,
                severity,
                "record",
                fn,
                inspect.getdoc(fn) or "",
                requires,
                dict(options or {}),
                (),
                fix,
                unsafe_fix,
                trigger,
            )
        )
        return fn

    return deco


def dataset_rule(
    code: str,
    name: str,
    severity: str,
    *,
    features: tuple = (),
    options: dict | None = None,
    fix: Callable | str | None = None,
    unsafe_fix: bool = False,
):
    """Register a class `cls(ctx)` with `collect(refs, features)` per chunk and `finish() -> Iterable[Finding]`.

    `features` names extractors (see `feature`) computed in the same pass as the record rules;
    findings from `finish` carry their own `path` and `line`.
    """

    def deco(cls):
        _register(
            Rule(
                code,
                name,
                severity,
                "dataset",
                cls,
                inspect.getdoc(cls) or "",
                "line",
                dict(options or {}),
                tuple(features),
                fix,
                unsafe_fix,
            )
        )
        return cls

    return deco


def feature(name: str):
    """Register a batch feature extractor `fn(records, ctx)`, run on each chunk of records.

    It returns one value per record (a list), or one compact, picklable value
    for the whole chunk (e.g. numpy arrays) that the rules using it can read;
    either is passed as is to each rule's `collect`. `ctx.options` maps every
    selected rule code to its options; `ctx.splits` holds the run's splits.
    """

    def deco(fn):
        FEATURES[name] = fn
        return fn

    return deco


def load_rules() -> dict[str, Rule]:
    """Import every rule module once; the rules sorted by code."""
    importlib.import_module("curate.rules")
    return dict(sorted(RULES.items()))


def select_rules(selectors) -> list[str]:
    """Codes matched by selectors: full codes or prefixes such as `S`, `F01`, or `ALL`."""
    rules = load_rules()
    out = []
    for sel in selectors:
        sel = sel.strip().upper()
        if sel == "ALL":
            return list(rules)
        matched = [c for c in rules if c.startswith(sel)]
        if not matched:
            from curate.errors import CurateError

            raise CurateError(f"unknown rule selector: {sel}")
        out += matched
    return sorted(set(out))
