"""C001: the same question answered with conflicting facts (see curate/facts.py for fact signatures)."""

from __future__ import annotations

from curate.crossrecord.features import FEATURE
from curate.crossrecord.rule import CrossRecordRule
from curate.registry import dataset_rule


@dataset_rule(
    "C001", "contradiction", "error", features=(FEATURE,), options={"threshold": 0.9, "num_perm": 128, "max_facts": 6}
)
class Contradiction(CrossRecordRule):
    """The record's final answer disagrees on a fact with an earlier record that has the same prompt.

    ## What it does
    Compares records whose prompts (the non-system turns before the final
    assistant message) are equal, or near: word 3-gram Jaccard similarity at
    least `threshold` (default 0.9), found with MinHash LSH and verified
    exactly, with boilerplate shingles (a tool description or template in at
    least 5% of the records) left out: different questions behind one long
    preamble are not the same prompt. Both must have the same system prompt and state the same facts
    in the prompt, so "what is 12 times 7" and "what is 12 times 8" are
    different questions. Their final answers conflict when both give values
    of one kind and each has a value the other lacks:

    - numbers (`1,000` = `1000`, `3.50` = `3.5`),
    - codes such as the ICD-10 code `J20.9`,
    - dates (`2021-03-04` = `March 4, 2021` = `03/04/2021`),
    - yes/no: an answer opening with `Yes`/`No.`/`Not at all`..., or two
      short answers that are the same words except a negation (`is safe` /
      `is not safe`).

    Numbers inside code (fenced or inline code, function calls such as
    `primerange(1, 30)`) are no facts. Facts the prompt already states are
    ignored, and a kind with more than
    `max_facts` (default 6) values in an answer is too long-form to compare;
    an answer that lacks a fact, or adds detail, is no conflict. The later
    record is flagged, naming both sides' values; the related location is the
    earliest conflicting record. Records of one split are compared with each
    other (train and unsplit files together).

    ## Why is this bad?
    The model is trained to give both answers to one question: at best it
    learns to hedge between them, at worst it learns the wrong one. One of
    the two labels is an error in the data.

    ## Example
    Line 4 `What is the ICD-10 code for acute bronchitis?` -> `J20.9`, line 9
    the same question -> `The code is J21.9.`: line 9 is flagged, `code
    j21.9 vs j20.9`.

    ## Fix
    Check which answer is right and correct or remove the other.
    """

    code = "C001"

    def message(self, match, other) -> str:
        same = (
            "the same prompt"
            if match.similarity >= 1.0
            else f"a near-identical prompt (similarity {match.similarity:.2f})"
        )
        return f"final answer contradicts the earlier record at {other.path}:{other.line} with {same}: {match.detail}"
