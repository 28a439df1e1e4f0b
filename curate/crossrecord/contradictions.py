"""Matcher of C001: equal or near prompts (same system prompt and prompt facts), conflicting answer facts."""

from __future__ import annotations

import numpy as np

from curate import facts
from curate.crossrecord.features import C001_PROMPT
from curate.crossrecord.match import Match
from curate.crossrecord.matching import matcher
from curate.crossrecord.settings import search
from curate.similarity import candidates, verify_pairs

# Distinct answers an exact-prompt group compares each record with.
MAX_DISTINCT_ANSWERS = 16


@matcher("C001")
def contradictions(c, s, skip, store):
    """Records in order: each against the earlier unflagged records with the same prompt (one per distinct
    answer) or a verified near prompt; the first conflict flags it. Flagged records are no reference for
    later ones, so in 84, 86, 84 only the 86 is flagged."""
    part = np.flatnonzero((c.pflags & C001_PROMPT) > 0)
    run_of = _same_prompt_runs(c, part)
    near = _near_prompts(c, s, part)
    sigs, neg, negpar = c.signatures, c.neg.tolist(), c.negpar.tolist()
    answers: dict[int, dict] = {}  # run -> distinct answer -> its first unflagged record
    flagged: dict[int, Match] = {}
    for j in sorted(set(run_of) | set(near)):
        run = run_of.get(j)
        reps = answers.setdefault(run, {}) if run is not None else {}
        others = [(i, 1.0) for i in reps.values()] + [
            (i, sim) for i, sim in near.get(j, {}).items() if i not in flagged
        ]
        for i, sim in sorted(others):
            found = facts.conflicts(sigs[j], sigs[i])
            negation = neg[j] != 0 and neg[j] == neg[i] and negpar[j] != negpar[i]
            if found or negation:
                flagged[j] = Match(j, i, sim, facts.describe(found, negation))
                break
        answer = (sigs[j], neg[j], negpar[j])
        if j not in flagged and run is not None and answer not in reps and len(reps) < MAX_DISTINCT_ANSWERS:
            reps[answer] = j
    return [
        Match(int(c.prow[m.index]), int(c.prow[m.other]), m.similarity, m.detail)
        for m in sorted(flagged.values(), key=lambda m: m.index)
    ]


def _same_prompt_runs(c, part: np.ndarray) -> dict[int, int]:
    """Prompt number -> run id, for the prompts whose (guard, prompt digest) two or more records share."""
    guard, phash = c.guard[part], c.phash[part]
    order = np.lexsort((part, phash, guard))
    new = np.ones(len(part), dtype=bool)
    new[1:] = (guard[order][1:] != guard[order][:-1]) | (phash[order][1:] != phash[order][:-1])
    run_of = np.empty(len(part), dtype=np.int64)
    run_of[order] = np.cumsum(new) - 1
    shared_run = np.bincount(run_of)[run_of] > 1
    return dict(zip(part[shared_run].tolist(), run_of[shared_run].tolist()))


def _near_prompts(c, s, part: np.ndarray) -> dict[int, dict]:
    """Later prompt -> {earlier prompt: similarity}: verified near (not equal) prompts with equal guards."""
    settings = search(s.contra)
    guard = c.guard[part]
    salt = (guard >> np.uint64(32)).astype(np.uint32) ^ guard.astype(np.uint32)
    near: dict[int, dict] = {}
    for pairs in candidates(settings, c.pkeys[s.contra][part], salt):
        pairs = part[pairs]
        pairs = pairs[(c.phash[pairs[:, 0]] != c.phash[pairs[:, 1]]) & (c.guard[pairs[:, 0]] == c.guard[pairs[:, 1]])]
        pairs, sims = verify_pairs(c.psets, c.psets, pairs, settings.threshold)
        for i, j, sim in zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), sims.tolist()):
            near.setdefault(j, {})[i] = sim
    return near
