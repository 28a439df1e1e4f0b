"""The matcher registry (one matcher per rule code) and the array helpers matchers share."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from curate.crossrecord.match import Match

# code -> fn(columns, settings, skip, store) -> list[Match] sorted by record; ``skip`` holds the records a
# stronger finding of the family already reports (``curate.crossrecord.results``).
MATCHERS: dict[str, Callable] = {}


def matcher(code: str):
    """Register the matcher of rule ``code``."""

    def deco(fn):
        MATCHERS[code] = fn
        return fn

    return deco


def as_matches(index, other, sims=None) -> list[Match]:
    sims = np.ones(len(index)) if sims is None else sims
    out = [Match(int(i), int(o), float(s)) for i, o, s in zip(index.tolist(), other.tolist(), sims.tolist())]
    out.sort(key=lambda m: m.index)
    return out


def first_per_key(keys: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (sorted) and the smallest index holding each."""
    order = np.lexsort((index, keys))
    keys, index = keys[order], index[order]
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    return keys[new], index[new]


def lookup(table_keys: np.ndarray, table_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``table_values`` at each key's place in sorted ``table_keys``, -1 where absent."""
    if not len(table_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(table_keys, keys), len(table_keys) - 1)
    return np.where(table_keys[pos] == keys, table_values[pos], -1).astype(np.int64)
