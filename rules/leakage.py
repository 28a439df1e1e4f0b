"""L001-L004: training records that contain eval, test or reference (benchmark) data (see curate/crossrecord/leaks.py)."""

from __future__ import annotations

from curate.crossrecord.features import FEATURE
from curate.crossrecord.rule import CrossRecordRule
from curate.registry import dataset_rule


class LeakRule(CrossRecordRule):
    """A leak rule: the other side is a protected record."""

    def protected(self, index: int, loc) -> str:
        return f"the {self.split_name(index)} record at {loc.path}:{loc.line}"


@dataset_rule("L001", "exact-leak", "error", features=(FEATURE,), fix="remove", unsafe_fix=True)
class ExactLeak(LeakRule):
    """A training record equals an eval, test or reference record.

    ## What it does
    Compares the normalized conversations (NFKC, case-folded, whitespace
    collapsed, role-tagged turns) of training and protected records.
    Train and unsplit files are the training side; eval, test and
    `--reference` files (any JSON objects with text fields: `question`,
    `answer`...) are protected. The training record is flagged, the related
    location is the earliest protected record it equals.

    ## Why is this bad?
    A model trained on its evaluation data scores well on it by memory:
    the evaluation no longer measures anything.

    ## Example
    `eval.jsonl:3` and `train.jsonl:7` hold the same conversation up to case
    and spacing: `train.jsonl:7` is flagged.

    ## Fix
    Remove the record from train. `curate fix --unsafe` does so (with an eval
    file among the inputs or `--reference`), keeping it in the rejects file.
    """

    code = "L001"

    def message(self, match, other) -> str:
        return f"same normalized conversation as {self.protected(match.other, other)}"


@dataset_rule(
    "L002",
    "near-leak",
    "error",
    features=(FEATURE,),
    options={"threshold": 0.7, "num_perm": 128},
    fix="remove",
    unsafe_fix=True,
)
class NearLeak(LeakRule):
    """A training record near-duplicates an eval, test or reference record.

    ## What it does
    Measures the word 3-gram Jaccard similarity of the normalized
    conversations without their system turns, as D002 does, between
    training and protected records:
    MinHash LSH candidates (`num_perm`, default 128), each verified exactly
    against `threshold` (default 0.7); the message gives the similarity.
    Train and unsplit files are the training side; eval, test and
    `--reference` files are protected. The training record is flagged, the
    related location is the earliest protected record found. Exact copies are
    left to L001 (when L001 is off, they are reported here as 1.00).
    Boilerplate shingles (in at least 5% of the records) are left out and TeX
    markup is ignored, as in D002: a MATH problem pasted without `$` leaks.

    ## Why is this bad?
    A lightly edited copy of an evaluation example leaks it as surely as an
    exact one, and exact matching misses it.

    ## Example
    `eval.jsonl:3` and `train.jsonl:7` differ in two words of a long answer:
    Jaccard 0.86, `train.jsonl:7` is flagged.

    ## Fix
    Remove the record from train; `curate fix --unsafe` does so, keeping it in
    the rejects file.
    """

    code = "L002"

    def message(self, match, other) -> str:
        threshold = self.ctx.options["threshold"]
        return (
            f"near-duplicate of {self.protected(match.other, other)}: word 3-gram Jaccard similarity "
            f"{match.similarity:.2f} (threshold {threshold:g})"
        )


@dataset_rule(
    "L003",
    "prompt-leak",
    "error",
    features=(FEATURE,),
    options={"threshold": 0.9, "num_perm": 128, "min_words": 5},
    fix="remove",
    unsafe_fix=True,
)
class PromptLeak(LeakRule):
    """An eval, test or reference prompt appears in a training record, whatever the answer.

    ## What it does
    Compares prompts (the non-system turns before the final assistant
    message; a record without an answer, such as a benchmark question, is all
    prompt) of training and protected records: equal, or word 3-gram Jaccard
    similarity at least `threshold` (default 0.9, MinHash LSH candidates
    verified exactly). System prompts are left out, so a benchmark question
    leaks whatever system prompt wraps it. Prompts under `min_words` words
    (default 5: greetings such as "hi, how are you?") are too generic to
    count. Records L001 or L002 already report are not reported again.
    Boilerplate shingles (in at least 5% of the records) are left out of the
    near measure and TeX markup is ignored, as in D002.
    Train and unsplit files are the training side; eval, test and
    `--reference` files are protected.

    ## Why is this bad?
    Training on an evaluation question with any answer, even a different
    one, teaches the model that question and contaminates the evaluation.

    ## Example
    `bench.jsonl:12` `{"question": "Which planet has the most moons?", ...}`
    and a training record asking the same with another answer: the training
    record is flagged.

    ## Fix
    Remove the record from train, or replace its question. `curate fix
    --unsafe` removes it, keeping it in the rejects file.
    """

    code = "L003"

    def message(self, match, other) -> str:
        how = "equals" if match.similarity >= 1.0 else f"is near (similarity {match.similarity:.2f})"
        return f"prompt {how} the prompt of {self.protected(match.other, other)}"


@dataset_rule("L004", "ngram-contamination", "warning", features=(FEATURE,), options={"ngram": 13, "max_df": 10})
class NgramContamination(LeakRule):
    """A training record shares a word 13-gram with an eval, test or reference record.

    ## What it does
    Looks for word `ngram`-grams (default 13, the classic contamination
    test) of the normalized non-system turns that a training record shares
    with a protected record. n-grams found in more than `max_df` (default 10)
    protected records, or in more than `max_df` training records, are
    template text (instructions, boilerplate) and do not count. One finding
    per training record names the first shared n-gram and how many it
    shares; records L001-L003 already report are not reported again.
    Train and unsplit files are the training side; eval, test and
    `--reference` files are protected.

    ## Why is this bad?
    A long passage of a benchmark inside training data (a quoted question, a
    copied source text) lets the model memorize part of the evaluation.

    ## Example
    A training answer quotes a benchmark passage word for word: `shares
    "the mitochondria is the powerhouse of the cell and produces..." with the
    reference record at bench.jsonl:4`.

    ## Fix
    Remove or rewrite the shared passage, or the record.
    """

    code = "L004"

    def message(self, match, other) -> str:
        k = self.ctx.options["ngram"]
        quoted = f' "{match.detail}"' if match.detail else ""
        more = f" ({match.count} shared {k}-grams)" if match.count > 1 else ""
        return f"shares the {k}-word sequence{quoted} with {self.protected(match.other, other)}{more}"
