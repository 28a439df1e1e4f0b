"""Every cross-record rule's matches, computed once per run, with the family policy in one place."""

from __future__ import annotations

import numpy as np

from curate.crossrecord import contradictions, duplicates, leaks  # noqa: F401  (register the matchers)
from curate.crossrecord.match import Match
from curate.crossrecord.matching import MATCHERS
from curate.crossrecord.settings import RuleSettings
from curate.crossrecord.store import FeatureStore

# The strongest finding per record: a record that a stronger rule of its family reports (when that rule is
# selected) is not reported again by a weaker one.
STRONGER = {"D002": ("D001",), "L002": ("L001",), "L003": ("L001", "L002"), "L004": ("L001", "L002", "L003")}
# An exact copy is also near: the near rule leaves the exact rule's records out of its search, and reports
# them itself (similarity 1.00) when the exact rule is not selected.
ABSORBS = {"D002": "D001", "L002": "L001"}


class Results:
    """The run's feature store and the matches each rule reports (computed on first request)."""

    def __init__(self, splits):
        self.splits = frozenset(splits)
        self.options: dict = {}
        self._store: FeatureStore | None = None
        self._results: dict[str, list[Match]] = {}
        # code -> matcher; another engine may replace some (curate.rayengine.search runs them on Ray)
        self.matchers = dict(MATCHERS)

    def register(self, code: str, options: dict) -> None:
        self.options[code] = options

    @property
    def store(self) -> FeatureStore:
        if self._store is None:  # every rule has registered by the first chunk
            self._store = FeatureStore(RuleSettings.of(self.options, self.splits))
        return self._store

    def result(self, code: str) -> list[Match]:
        """The matches rule ``code`` reports, sorted by record."""
        if code not in self._results:
            store = self.store
            selected = store.settings.codes
            absorbed = ABSORBS.get(code)
            skip_codes = [c for c in STRONGER.get(code, ()) if c in selected or c == absorbed]
            skip = self._records(skip_codes)
            out = self.matchers[code](store.columns(), store.settings, skip, store)
            if absorbed and absorbed not in selected:
                out = sorted(out + self.result(absorbed), key=lambda m: m.index)
            self._results[code] = out
        return self._results[code]

    def _records(self, codes) -> np.ndarray:
        hit = [np.asarray([m.index for m in self.result(c)], dtype=np.int64) for c in codes]
        return np.concatenate(hit) if hit else np.empty(0, np.int64)
