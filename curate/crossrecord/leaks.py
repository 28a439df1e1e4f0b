"""Matchers of the leak rules: a training record against protected (eval, test, reference) records."""

from __future__ import annotations

import numpy as np

from curate.crossrecord.features import L003_PROMPT
from curate.crossrecord.matching import as_matches, first_per_key, lookup, matcher
from curate.crossrecord.settings import search
from curate.similarity import cross_candidates, earliest_verified
from curate.split_names import EVAL, TRAIN


@matcher("L001")
def exact_leaks(c, s, skip, store):
    """Each training record whose text equals a protected record's, against the earliest one."""
    if not s.leaks:
        return []
    prot = np.flatnonzero(c.group >= EVAL)
    keys, first = first_per_key(c.exact[prot], prot)
    train = np.flatnonzero(c.group == TRAIN)
    other = lookup(keys, first, c.exact[train])
    return as_matches(train[other >= 0], other[other >= 0])


@matcher("L002")
def near_leaks(c, s, skip, store):
    """Each training record (not in ``skip``) with a verified near protected record."""
    if not s.leaks:
        return []
    has_text = c.sets.sizes() > 0
    train_mask = (c.group == TRAIN) & has_text
    train_mask[skip] = False
    train = np.flatnonzero(train_mask)
    prot = np.flatnonzero((c.group >= EVAL) & has_text)
    prot = first_per_key(c.exact[prot], prot)[1]
    prot.sort()
    settings = search(s.near_leak)
    keys = c.keys[s.near_leak]
    pairs = (
        np.stack([train[q[:, 0]], prot[q[:, 1]]], axis=1) for q in cross_candidates(settings, keys[train], keys[prot])
    )
    return as_matches(*earliest_verified(settings, pairs, c.sets, 0, len(c.group)))


@matcher("L003")
def prompt_leaks(c, s, skip, store):
    """Each training record (not in ``skip``) whose prompt equals or is near a protected record's prompt."""
    if not s.leaks:
        return []
    eligible = (c.pflags & L003_PROMPT) > 0
    pgroup = c.group[c.prow]
    done = np.zeros(len(c.group), dtype=bool)
    done[skip] = True
    train = np.flatnonzero(eligible & (pgroup == TRAIN) & ~done[c.prow])
    prot = np.flatnonzero(eligible & (pgroup >= EVAL))
    # prompt-local indices are in record order, so the smallest is the earliest record
    keys, first = first_per_key(c.phash[prot], prot)
    other = lookup(keys, first, c.phash[train])
    exact_t, exact_o = train[other >= 0], other[other >= 0]
    train = train[other < 0]
    prot = np.sort(first)
    settings = search(s.prompt_leak)
    pkeys = c.pkeys[s.prompt_leak]
    pairs = (
        np.stack([train[q[:, 0]], prot[q[:, 1]]], axis=1) for q in cross_candidates(settings, pkeys[train], pkeys[prot])
    )
    near_t, near_o, sims = earliest_verified(settings, pairs, c.psets, 0, len(c.prow))
    return as_matches(
        c.prow[np.concatenate([exact_t, near_t])],
        c.prow[np.concatenate([exact_o, near_o])],
        np.concatenate([np.ones(len(exact_t)), sims]),
    )


@matcher("L004")
def ngram_leaks(c, s, skip, store):
    """Each training record (not in ``skip``) sharing a word n-gram with a protected record."""
    return store.ngrams.matches(skip)
