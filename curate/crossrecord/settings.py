"""What the selected cross-record rules need, from their options (``RuleSettings``)."""

from __future__ import annotations

from dataclasses import dataclass

from curate.errors import CurateError
from curate.similarity import SearchSettings
from curate.split_names import PROTECTED, TEST, TRAINING

CODES = ("D001", "D002", "C001", "L001", "L002", "L003", "L004")


@dataclass(frozen=True)
class RuleSettings:
    """What the selected rules need; the feature extractor and the store derive the same one."""

    codes: frozenset
    leaks: bool  # a leak rule is selected and both sides (train, protected) are present
    dup: tuple | None = None  # D002 (threshold, num_perm)
    near_leak: tuple | None = None  # L002
    contra: tuple | None = None  # C001 prompt (threshold, num_perm)
    prompt_leak: tuple | None = None  # L003
    max_facts: int = 6
    min_words: int = 5
    ngram: int = 0  # L004 n-gram length, 0 when L004 is off
    max_df: int = 10

    @classmethod
    def of(cls, options: dict, splits) -> RuleSettings:
        """Settings for the selected codes among ``options`` (code -> options); bad options raise CurateError."""
        codes = frozenset(c for c in options if c in CODES)
        splits = set(splits)
        leaks = any(c.startswith("L") for c in codes) and bool(splits & TRAINING) and bool(splits & PROTECTED)
        kw: dict = {}
        if "D002" in codes:
            kw["dup"] = _lsh_option("D002", options["D002"])
        if "C001" in codes:
            kw["contra"] = _lsh_option("C001", options["C001"])
            kw["max_facts"] = _positive("C001", "max_facts", options["C001"])
        if "L002" in codes:
            kw["near_leak"] = _lsh_option("L002", options["L002"])
        if "L003" in codes:
            kw["prompt_leak"] = _lsh_option("L003", options["L003"])
            kw["min_words"] = int(options["L003"]["min_words"])
        if "L004" in codes:
            kw["ngram"] = _positive("L004", "ngram", options["L004"])
            kw["max_df"] = _positive("L004", "max_df", options["L004"])
        if not leaks:  # nothing to compare: no leak work at all
            for key in ("near_leak", "prompt_leak", "ngram"):
                kw.pop(key, None)
        return cls(codes, leaks, **kw)

    @property
    def within(self) -> bool:
        """Duplicates or contradictions are looked for (groups 0-2)."""
        return bool(self.codes & {"D001", "D002", "C001"})

    @property
    def full_configs(self) -> list[tuple]:
        return sorted({c for c in (self.dup, self.near_leak) if c})

    @property
    def prompt_configs(self) -> list[tuple]:
        return sorted({c for c in (self.contra, self.prompt_leak) if c})

    def wants(self, group: int) -> bool:
        return (self.within and group <= TEST) or self.leaks


def _lsh_option(code: str, opts: dict) -> tuple[float, int]:
    threshold = float(opts["threshold"])
    if not 0.0 < threshold <= 1.0:
        raise CurateError(f"{code}.threshold must be in (0, 1], got {threshold}")
    return threshold, _positive(code, "num_perm", opts)


def _positive(code: str, name: str, opts: dict) -> int:
    value = opts[name]
    if not isinstance(value, int) or value < 1:
        raise CurateError(f"{code}.{name} must be a positive integer, got {value!r}")
    return value


def search(config: tuple) -> SearchSettings:
    """The search settings of a rule's ``(threshold, num_perm)``: banded for recall, verified exactly."""
    return SearchSettings(*config)
