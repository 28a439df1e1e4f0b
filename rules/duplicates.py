"""D001-D002: exact and near duplicates inside a split (see curate/crossrecord/ for the shared core)."""

from __future__ import annotations

from curate.crossrecord.features import FEATURE
from curate.crossrecord.rule import CrossRecordRule
from curate.registry import dataset_rule


@dataset_rule("D001", "exact-duplicate", "warning", features=(FEATURE,), fix="remove")
class ExactDuplicate(CrossRecordRule):
    """The record's normalized conversation equals an earlier record's.

    ## What it does
    Normalizes each conversation (Unicode NFKC, case-folded, whitespace
    collapsed, every turn tagged with its role) and flags each record whose
    text equals an earlier record's in the same split: train and unsplit files
    together, eval and test each on their own (a train record equal to an eval
    record is L001). The related location is the first copy.

    ## Why is this bad?
    Copies weight their example more than the rest of the data, which the
    model then memorizes, and inflate the apparent size of the dataset.

    ## Example
    `{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}`
    on line 3, and the same with `"content": "hi "` on line 9: line 9 is flagged.

    ## Fix
    `curate fix` removes every copy after the first (a safe fix); the removed
    lines go to the rejects file.
    """

    code = "D001"

    def message(self, match, other) -> str:
        return f"same normalized conversation as the earlier record at {other.path}:{other.line}"


@dataset_rule(
    "D002",
    "near-duplicate",
    "warning",
    features=(FEATURE,),
    options={"threshold": 0.7, "num_perm": 128},
    fix="remove",
    unsafe_fix=True,
)
class NearDuplicate(CrossRecordRule):
    """The record is a near-duplicate (Jaccard similarity >= threshold) of an earlier record.

    ## What it does
    Compares the sets of word 3-gram shingles of the normalized conversations
    without their system turns (a text under 3 words is one shingle) within
    each split, as D001 does: a long system prompt shared by every record
    would otherwise make them all alike.
    Candidates come from MinHash LSH (`num_perm` permutations, default 128,
    banded for high recall) and every pair is then measured exactly, so each
    finding names an earlier record whose Jaccard similarity really is at
    least `threshold` (default 0.7), with that similarity in the message. The
    related location is the earliest such record found. Pairs never chain:
    a templated dataset gives one finding per record at most, each against a
    record it is itself similar to. Exact copies are left to D001 (when D001
    is off, they are reported here with similarity 1.00). Shingles found in at least 5% of the records (and in at least 10) are
    boilerplate, such as a tool description or an instruction template, and
    are left out of the measure (a record with fewer than 5 other shingles
    is measured whole); TeX math markup (`$`, `\\(`, `\\frac{a}{b}`) is
    ignored.

    ## Why is this bad?
    Near-copies (a changed name, a reworded sentence) over-weight one example
    just as exact copies do, and they slip past exact deduplication.

    ## Example
    Two answers of 40 words that differ in one word share 35 of their 41
    distinct 3-grams: Jaccard 0.85, flagged.

    ## Fix
    Drop or rewrite one of the two. `curate fix --unsafe` removes the later
    record (unsafe: near is a judgement), keeping it in the rejects file.
    Raise `threshold` if the flagged pairs are legitimately different.
    """

    code = "D002"

    def message(self, match, other) -> str:
        threshold = self.ctx.options["threshold"]
        return (
            f"near-duplicate of the earlier record at {other.path}:{other.line}: word 3-gram Jaccard "
            f"similarity {match.similarity:.2f} (threshold {threshold:g})"
        )
