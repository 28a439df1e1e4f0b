"""C002: the system prompt is the same across a split."""

from __future__ import annotations

import hashlib
from array import array
from functools import lru_cache

from curate.diagnostics import Finding
from curate.registry import dataset_rule, feature
from curate.text import normalize

NO_PROMPT = 0
_SNIPPET = 60
_MAX_SNIPPETS = 10_000
_GROUP = {"train": 0, "unsplit": 0, "eval": 1, "test": 2}
_GROUP_NAME = ("train", "eval", "test")


def prompt_hash(messages) -> int:
    """64-bit hash of the normalized system prompt (every system message joined), NO_PROMPT when none."""
    return _hash_of(tuple(m.text for m in messages if m.role == "system"))


@lru_cache(maxsize=1024)  # most records of a set share their system prompt
def _hash_of(prompts: tuple[str, ...]) -> int:
    text = "\n".join(normalize(p) for p in prompts)
    if not text.strip():
        return NO_PROMPT
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little") or 1


@feature("system_prompt")
def system_prompt(records, ctx):
    """Per record: None (no conversation, or a reference record), else the prompt hash; the first record
    of a chunk with a given prompt sends `(hash, snippet)` so the rule can quote the prompt."""
    out, seen = [], set()
    for r in records:
        if r.messages is None or r.split == "reference":
            out.append(None)
            continue
        h = prompt_hash(r.messages)
        if h != NO_PROMPT and h not in seen:
            seen.add(h)
            text = " ".join(" ".join(m.text.split()) for m in r.messages if m.role == "system")
            out.append((h, text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")))
        else:
            out.append(h)
    return out


@dataset_rule(
    "C002", "system-prompt-drift", "warning", features=("system_prompt",), options={"majority": 0.8, "min_records": 10}
)
class SystemPromptDrift:
    """A record lacks the system prompt most records have, has a different one, or has one where most have none.

    ## What it does
    Compares the system prompts (normalized: case, Unicode form and
    whitespace ignored) of the conversations in each split: train and unsplit
    files together, eval and test each on their own; reference files are
    ignored. When at least `majority` (default 0.8) of a split's records, and
    at least `min_records` (default 10), share one system prompt, every record
    with another prompt or none is flagged; when that majority has no system
    prompt, every record that has one is flagged. Without a clear majority
    (a dataset that mixes prompts on purpose) nothing is reported. The related
    location is the first record with the majority's prompt.

    ## Why is this bad?
    A model fine-tuned with one system prompt behaves as trained only under
    that prompt. A few records without it, or with a stale version, are
    usually an export mistake and teach behaviour that depends on whether the
    prompt is there.

    ## Example
    950 records start with `{"role": "system", "content": "You are Acme's
    support bot."}` and 50 have no system message.

    ## Fix
    Add the majority's system prompt to the flagged records (or remove the
    stray one), or lower `majority` if the mix is intended.
    """

    def __init__(self, ctx):
        self.majority = float(ctx.options["majority"])
        self.min_records = ctx.options["min_records"]
        self.table = ctx.table
        self.index = array("q")
        self.hash = array("Q")
        self.group = array("b")
        self.snippets: dict[int, str] = {}

    def collect(self, refs, feats):
        for ref, value in zip(refs, feats["system_prompt"]):
            g = _GROUP.get(ref.split)
            if value is None or g is None:
                continue
            if isinstance(value, tuple):
                value, snippet = value
                if value not in self.snippets and len(self.snippets) < _MAX_SNIPPETS:
                    self.snippets[value] = snippet
            self.index.append(ref.index)
            self.hash.append(value)
            self.group.append(g)

    def finish(self):
        if not self.index:
            return
        import numpy as np  # lazily: a lint that does not run C002 does without it

        index = np.frombuffer(self.index, dtype=np.int64)
        hashes = np.frombuffer(self.hash, dtype=np.uint64)
        group = np.frombuffer(self.group, dtype=np.int8)
        for g, name in enumerate(_GROUP_NAME):
            sel = group == g
            n = int(sel.sum())
            if n < self.min_records:
                continue
            h, idx = hashes[sel], index[sel]
            values, first, counts = np.unique(h, return_index=True, return_counts=True)
            top = int(np.argmax(counts))
            share = counts[top] / n
            if share < self.majority or counts[top] == n:
                continue
            major = int(values[top])
            related = (self.table.location(int(idx[first[top]])),)
            have = f"{int(counts[top]):,} of {n:,} {name} records ({share:.0%})"
            for i, value in zip(idx[h != values[top]], h[h != values[top]]):
                loc = self.table.location(int(i))
                yield Finding(self._message(int(value), major, have), path=loc.path, line=loc.line, related=related)

    def _message(self, value: int, major: int, have: str) -> str:
        if major == NO_PROMPT:
            return f"record has a system prompt, but {have} have none"
        prompt = f"the system prompt {self.snippets[major]!r}" if major in self.snippets else "one system prompt"
        if value == NO_PROMPT:
            return f"record has no system prompt, but {have} have {prompt}"
        return f"record's system prompt differs from {prompt}, which {have} have"
