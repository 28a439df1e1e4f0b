"""Matchers of D001 (same normalized text as an earlier record) and D002 (verified near, earlier record)."""

from __future__ import annotations

import numpy as np

from curate.crossrecord.matching import as_matches, matcher
from curate.crossrecord.settings import search
from curate.similarity import candidates, earliest_verified
from curate.split_names import TEST, TRAIN

# Per-group salts of the band keys: records of different splits rarely share a bucket.
_SALT = np.array([0x9E3779B9, 0x7F4A7C15, 0x85EBCA6B, 0xC2B2AE35], dtype=np.uint32)


@matcher("D001")
def exact_duplicates(c, s, skip, store):
    """Each record whose text equals an earlier record's of the same group, against the first copy."""
    rows = np.flatnonzero((c.group >= TRAIN) & (c.group <= TEST))
    order = np.lexsort((rows, c.exact[rows], c.group[rows]))
    rows = rows[order]
    g, h = c.group[rows], c.exact[rows]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (h[1:] != h[:-1])
    first = rows[np.flatnonzero(new)[np.cumsum(new) - 1]]
    return as_matches(rows[~new], first[~new])


@matcher("D002")
def near_duplicates(c, s, skip, store):
    """Each record with a verified near earlier record of the same group (exact copies in ``skip``)."""
    keep = (c.group >= TRAIN) & (c.group <= TEST) & (c.sets.sizes() > 0)
    keep[skip] = False
    rows = np.flatnonzero(keep)
    group = c.group
    settings = search(s.dup)
    keys = c.keys[s.dup][rows]
    # the group salt keeps splits apart in the buckets; the filter catches a 32-bit salt collision
    pairs = (
        p[group[p[:, 0]] == group[p[:, 1]]] for p in (rows[q] for q in candidates(settings, keys, _SALT[group[rows]]))
    )
    return as_matches(*earliest_verified(settings, pairs, c.sets, 1, len(group)))
