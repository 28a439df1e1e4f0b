"""Q: is each example worth training on, and is there enough data."""

from __future__ import annotations

import math
import operator
import re
from array import array
from collections import Counter, deque
from itertools import islice

from curate.diagnostics import Finding
from curate.registry import dataset_rule, feature, record_rule
from curate.rules.intent import asks_for_ai_persona, user_text
from curate.rules.template import fenced_blocks, mask_code
from curate.scan import Trigger
from curate.tokens import count_tokens

TRAINING = ("train", "unsplit")


@feature("is_example")
def is_example(records, ctx):
    """Whether the record parsed into a conversation."""
    return [r.messages is not None for r in records]


@dataset_rule("Q001", "too-few-examples", "warning", features=("is_example",), options={"min_examples": 500})
class TooFewExamples:
    """The train set has fewer examples than `min_examples` (default 500).

    ## What it does
    Counts the conversations in the train split: files named as train, or,
    when there is no train file, the unsplit ones (a lone `data.jsonl` is a
    train set). Eval, test and reference files do not count. The finding is
    reported at line 1 of the first train file.

    ## Why is this bad?
    A few hundred examples are about the least that moves a model's behaviour
    reliably; with fewer, a fine-tune mostly memorizes them or does nothing
    measurable, and the eval loss is noise.

    ## Example
    A `train.jsonl` with 120 conversations.

    ## Fix
    Collect or generate more examples, or lower `min_examples` in
    `[tool.curate.rules.Q001]` if a small set is intended (e.g. a style nudge).
    """

    def __init__(self, ctx):
        self.min = ctx.options["min_examples"]
        self.count = {s: 0 for s in TRAINING}
        self.first_path: dict[str, str] = {}

    def collect(self, refs, feats):
        for ref, ok in zip(refs, feats["is_example"]):
            if ref.split in self.count:
                self.first_path.setdefault(ref.split, ref.path)
                self.count[ref.split] += bool(ok)

    def finish(self):
        split = "train" if "train" in self.first_path else "unsplit"
        if split not in self.first_path or self.count[split] >= self.min:
            return
        n = self.count[split]
        what = "the train set" if split == "train" else "the dataset (no train file, so the unsplit files)"
        yield Finding(
            f"{what} has {n} example{'s' if n != 1 else ''}, under min_examples {self.min}",
            path=self.first_path[split],
            line=1,
        )


@record_rule("Q002", "too-long", "warning", options={"max_tokens": 4096})
def too_long(record, ctx):
    """The example is longer than `max_tokens` (default 4096).

    ## What it does
    Counts the tokens of the whole conversation: exactly with `--tokenizer`
    (through its chat template), otherwise an estimate (about one token per
    four characters or per word piece, whichever is larger, plus a few per
    message). The message says which.

    ## Why is this bad?
    The trainer cuts every example at its maximum sequence length. The cut
    falls on the end of the conversation, the assistant's reply: the model
    learns replies that stop mid-sentence, or nothing at all from the example.

    ## Example
    A conversation that pastes a 40-page document into the prompt.

    ## Fix
    Shorten or split the example, drop it, or raise `max_tokens` to the
    sequence length you actually train with (`curate train --max-seq-len`).
    """
    limit = ctx.options["max_tokens"]
    msgs = record.messages
    if ctx.tokenizer is None:
        # the estimate never exceeds 3/4 token per character: skip the count when that cannot reach the limit
        if sum(len(m.text) for m in msgs) * 3 // 4 + 4 * len(msgs) <= limit:
            return
        n, how = count_tokens(msgs, None), "estimated"
    else:
        n, how = count_tokens(msgs, ctx.tokenizer), "exact"
    if n > limit:
        yield Finding(
            f"example has {n:,} tokens ({how}), over max_tokens {limit:,}: the reply would be truncated in training"
        )


_TAIL_KEY = 8  # characters of the text's end searched for earlier to find a loop's period
_MAX_LOOP_SCAN = 100_000  # characters a loop is followed back to count its repeats


def _word_loop(text: str, min_repeats: int) -> tuple[str, int] | None:
    """A word with letters repeated `min_repeats` times in a row (as whitespace-separated tokens) anywhere."""
    words = text.split()
    n = len(words)
    if n < min_repeats:
        return None
    if min_repeats >= 3 and not any(map(operator.eq, words[:: min_repeats - 1], words[1 :: min_repeats - 1])):
        return None  # a run of min_repeats holds a pair (j, j + 1) with j a multiple of min_repeats - 1
    same = map(operator.eq, words, islice(words, 1, None))  # pair i: token i equals token i + 1
    pos = 0  # index of the next pair `same` yields
    while True:
        try:  # the next token equal to its successor, found at C speed
            i = pos + operator.indexOf(same, True)
        except ValueError:
            return None
        j = i + 1
        while j < n and words[j] == words[i]:
            j += 1
        if j - i >= min_repeats and any(c.isalpha() for c in words[i]):
            return words[i], j - i
        deque(islice(same, j - i - 1), maxlen=0)  # skip the pairs inside the run
        pos = j


def _tail_loop(text: str, min_repeats: int, max_period: int) -> tuple[str, int] | None:
    """A unit of up to `max_period` characters repeated at least `min_repeats` times at the end of the text."""
    t = text.rstrip()
    n = len(t)
    if n < 2 * min_repeats:
        return None
    key = t[-_TAIL_KEY:]
    k = len(key)
    lo, start = max(0, n - k - max_period), n - k - 1
    while (at := t.rfind(key, lo, start + k)) >= 0:
        period = n - k - at
        span = period * min_repeats
        if span <= n and t[n - span + period :] == t[n - span : n - period]:
            unit = t[n - period :]
            if sum(c.isalpha() for c in unit) < 2:
                return None
            begin, stop = n - span, max(0, n - _MAX_LOOP_SCAN)
            while begin - period >= stop and t[begin - period : begin] == t[begin : begin + period]:
                begin -= period
            return unit, (n - begin) // period
        start = at - 1
        if start < 0:
            break
    return None


def _repeated_segment(text: str, min_repeats: int) -> tuple[str, int] | None:
    """A line or sentence of some substance that occurs `min_repeats` times or more and makes up a third
    of the text (a refrain, or a test repeating one assertion among many lines, does not)."""
    if len(text) < 20 * min_repeats:
        return None
    segs = text.replace(". ", ".\n").split("\n")
    if len(segs) < min_repeats:  # one segment more than separators ("\n", ". "): too few to hold the repeats
        return None
    blanks = segs.count("")
    if len(segs) - len(set(segs)) - max(blanks - 1, 0) < min_repeats - 1:
        return None
    counts = Counter(s.strip() for s in segs)
    for seg, count in counts.most_common():
        if count < min_repeats:
            break
        if (
            len(seg) >= 20
            and not seg.startswith("|")
            and (seg.count(" ") >= 2 or not seg.isascii())
            and sum(c.isalpha() for c in seg) >= 10
            and 3 * count * len(seg) >= len(text.strip())
        ):
            return seg, count
    return None


def _quote(s: str, width: int = 40) -> str:
    s = " ".join(s.split())
    return repr(s if len(s) <= width else s[: width - 1] + "…")


@record_rule("Q003", "repetition", "warning", options={"min_repeats": 10, "min_line_repeats": 6, "max_period": 200})
def repetition(record, ctx):
    """Degenerate repetition inside a message: a looping phrase, word or sentence.

    ## What it does
    Checks system, user and assistant messages for three patterns:
    the text ends in a unit of up to `max_period` characters repeated
    `min_repeats` (default 10) times in a row (a generation stuck in a loop);
    a word repeated `min_repeats` times in a row anywhere (`the the the ...`);
    a line or sentence of at least 20 characters occurring `min_line_repeats`
    (default 6) times and making up a third of the message. The last two look
    at prose only (code blocks repeat by nature). Units without letters
    (`-----`, `}`, `0 0 0`, table separators), markdown table rows and tool
    outputs (logs repeat) are ignored, so code, tables and poems with a
    refrain stay quiet.

    ## Why is this bad?
    Looping text is the signature of a degenerate generation or a broken
    export. Trained on, it teaches the model to loop.

    ## Example
    ```json
    {"role": "assistant", "content": "Sure! I can help. I can help. I can help. I can help. ..."}
    ```

    ## Fix
    Regenerate or cut the reply, or drop the example.
    """
    opts = ctx.options
    min_repeats, min_line_repeats, max_period = opts["min_repeats"], opts["min_line_repeats"], opts["max_period"]
    for m in record.messages:
        text = m.text
        if len(text) < 20 or m.role == "tool":
            continue
        hit = _tail_loop(text, min_repeats, max_period)
        if hit:
            yield Finding(
                f"{m.role} content ends in a loop: {_quote(hit[0])} repeated {hit[1]} times", pointer=m.content_pointer
            )
            continue
        # code repeats by nature: only a loop at the very end counts there (mask_code's own test, without the call)
        prose = mask_code(text) if "`" in text or "~~~" in text else text
        hit = _word_loop(prose, min_repeats)
        if hit:
            yield Finding(
                f"{m.role} content repeats the word {hit[0]!r} {hit[1]} times in a row", pointer=m.content_pointer
            )
            continue
        hit = _repeated_segment(prose, min_line_repeats)
        if hit:
            yield Finding(f"{m.role} content repeats {_quote(hit[0])} {hit[1]} times", pointer=m.content_pointer)


_APOS = "['\u2019]"
_BOILERPLATE = re.compile(
    r"\b(?:"
    r"as an? (?:ai|artificial intelligence)(?: language)? model"
    r"|as an? large language model"
    r"|as an ai(?: assistant| chatbot)?,"
    rf"|i(?:{_APOS}m| am) (?:just|only) an? (?:ai|language model|computer program)\b"
    rf"|i(?:{_APOS}m| am) (?:so )?sorry,? but i (?:cannot|can{_APOS}t|can not|am unable to|am not able to|won{_APOS}t)"
    rf"|i (?:cannot|can{_APOS}t|can not|am unable to|{_APOS}m unable to|am not able to) (?:fulfill|comply with)"
    rf"|i (?:don{_APOS}t|do not) have (?:personal )?(?:opinions|feelings|emotions|beliefs|preferences)"
    rf"|i (?:don{_APOS}t|do not) have (?:access to )?real-time"
    r"|my (?:knowledge|training)(?: data)? cut-?off"
    r"|as of my (?:last )?(?:knowledge |training )?(?:update|cut-?off)"
    rf"|i (?:cannot|can{_APOS}t|am unable to|{_APOS}m unable to) browse the internet"
    r")",
    re.I,
)


# Substrings one of which every phrase above contains, as chat models capitalize them ("AI" too, tested
# in `_has_anchor`): the cheap test first.
_BOILERPLATE_ANCHORS = (
    "anguage model",
    "rtificial intel",
    "omputer program",
    "orry",
    "ulfill",
    "omply",
    "t have",
    "utoff",
    "ut-off",
    "s of my",
    "rowse the",
)


def _has_anchor(text: str) -> bool:
    if "I" in text and "AI" in text:  # a one-character search first: two-character ones are slow
        return True
    return any(anchor in text for anchor in _BOILERPLATE_ANCHORS)


@record_rule("Q004", "boilerplate-response", "warning", trigger=Trigger(("AI", *_BOILERPLATE_ANCHORS)))
def boilerplate_response(record, ctx):
    """Refusal or AI-disclaimer boilerplate in an assistant reply.

    ## What it does
    Looks in assistant messages for the stock phrases of chat models:
    "As an AI language model", "As a large language model", "I'm sorry, but I
    cannot", "I cannot fulfill", "I don't have personal opinions", "my
    knowledge cutoff", "as of my last update", and their close variants.
    The finding names the phrase.

    ## Why is this bad?
    These phrases come from distilling another chat model. Trained on, they
    make the model refuse harmless requests, hedge, and claim another model's
    identity and cutoff date.

    ## Example
    ```json
    {"role": "assistant", "content": "As an AI language model, I cannot browse the internet..."}
    ```

    ## Fix
    Rewrite or drop the reply. For a safety dataset whose refusals are
    intended, ignore Q004 for that file (`per-file-ignores`). A reply to a
    prompt that asks it to play an AI ("pretend to be an AI language
    model", "role-play a chatbot") is skipped: the phrase is what was asked.
    """
    persona = None
    for m in record.messages:
        if m.role != "assistant":
            continue
        text = m.text
        hit = _has_anchor(text) and _BOILERPLATE.search(text)
        if hit and persona is None:
            persona = asks_for_ai_persona(user_text(record.messages))
        if hit and not persona:
            yield Finding(f"assistant reply contains boilerplate {hit.group(0)!r}", pointer=m.content_pointer)


_TRUNCATED_ANYWHERE = re.compile(
    r"[\[(<]\s*(?:\.{3}|\u2026)?\s*(?:output |response |text |message |content |answer )?truncated"
    r"\s*(?:\.{3}|\u2026)?\s*[\])>]",
    re.I,
)
_TRUNCATED_END = re.compile(r"(?:\[\s*(?:\.{3}|\u2026)\s*\]|[\[(]\s*(?:to be )?continued\s*[\])])\s*\Z", re.I)


def unclosed_fence(text: str) -> int | None:
    """The 1-based line, in the text, of a code fence that is never closed; None when all are closed."""
    _, start = fenced_blocks(text)
    return None if start is None else text.count("\n", 0, start) + 1


# every fence, marker and end pattern above holds one of these
@record_rule(
    "Q005",
    "truncated-response",
    "warning",
    trigger=Trigger(("```", "~~~", "runcated", "RUNCATED", "...", "\u2026"), folded=("continued",)),
)
def truncated_response(record, ctx):
    """An assistant reply that is visibly cut off: an unclosed code fence or a truncation marker.

    ## What it does
    In assistant messages, flags a code fence (```` ``` ```` or `~~~`) that is
    opened and never closed, a marker such as `[truncated]`,
    `(output truncated)` or `[... truncated ...]` anywhere, and `[...]`,
    `(continued)` or `[to be continued]` at the very end. A trailing `...`
    alone is not flagged: it is often a deliberate ellipsis.

    ## Why is this bad?
    The reply was cut by a length limit or an export step. The model learns
    to stop mid-code-block or to print truncation markers.

    ## Example
    ````json
    {"role": "assistant", "content": "Here is the script:\\n```python\\nimport os\\nfor f in os.listdir("}
    ````

    ## Fix
    Regenerate the reply with a higher length limit, or drop the example.
    """
    for m in record.messages:
        if m.role != "assistant":
            continue
        text = m.text
        line = unclosed_fence(text)
        if line is not None:
            yield Finding(
                f"assistant reply has a code fence opened at line {line} of the content and never closed",
                pointer=m.content_pointer,
            )
            continue
        hit = (
            ("runcated" in text or "RUNCATED" in text) and _TRUNCATED_ANYWHERE.search(text)
        ) or _TRUNCATED_END.search(text[-40:])
        if hit:
            yield Finding(
                f"assistant reply contains the truncation marker {hit.group(0).strip()!r}", pointer=m.content_pointer
            )


@feature("char_length")
def char_length(records, ctx):
    """Characters of each conversation's text (-1 where there is none, and for reference records)."""
    return [
        sum(len(m.text) for m in r.messages) if r.messages is not None and r.split != "reference" else -1
        for r in records
    ]


_GROUP = {"train": 0, "unsplit": 0, "eval": 1, "test": 2}
_GROUP_NAME = ("train", "eval", "test")


def median(values) -> float:
    """`np.median` of a float array without NaN, without the NaN check that imports numpy.ma (about 20 ms)."""
    import numpy as np

    n = len(values)
    part = np.partition(values, [(n - 1) // 2, n // 2])
    return (float(part[(n - 1) // 2]) + float(part[n // 2])) / 2


@dataset_rule("Q006", "length-outlier", "info", features=("char_length",), options={"k": 4.0, "min_records": 50})
class LengthOutlier:
    """An example far longer or shorter than the rest of its split.

    ## What it does
    Compares the logarithm of each conversation's length (characters of all
    its messages) with the split's median, in units of the robust spread
    (1.4826 x the median absolute deviation, at least 0.5): beyond `k`
    (default 4) units is an outlier, so an outlier is always at least about
    7 times longer or shorter than the median. Train and unsplit files form
    one group, eval and test one each; a group needs `min_records` (default
    50) conversations. The message gives the length and the range of the
    middle 90% of the split.

    ## Why is this bad?
    An outlier is often a broken record: an empty reply, a pasted log, two
    conversations merged into one. Very long ones also dominate the loss.

    ## Example
    A 50,000-character example in a set of 1,500-character chats, or a
    reply of one word.

    ## Fix
    Look at the example; cut, split or drop it if it is not what you meant.
    """

    def __init__(self, ctx):
        self.k = float(ctx.options["k"])
        self.min_records = ctx.options["min_records"]
        self.table = ctx.table
        self.index = array("q")
        self.length = array("q")
        self.group = array("b")

    def collect(self, refs, feats):
        for ref, n in zip(refs, feats["char_length"]):
            g = _GROUP.get(ref.split)
            if n >= 0 and g is not None:
                self.index.append(ref.index)
                self.length.append(n)
                self.group.append(g)

    def finish(self):
        import numpy as np  # lazily: a lint that does not run Q006 does without it

        index = np.frombuffer(self.index, dtype=np.int64) if self.index else np.zeros(0, np.int64)
        length = np.frombuffer(self.length, dtype=np.int64) if self.length else np.zeros(0, np.int64)
        group = np.frombuffer(self.group, dtype=np.int8) if self.group else np.zeros(0, np.int8)
        for g, name in enumerate(_GROUP_NAME):
            sel = group == g
            if int(sel.sum()) < self.min_records:
                continue
            lengths = length[sel]
            logs = np.log(np.maximum(lengths, 1))
            med = median(logs)
            scale = max(1.4826 * median(np.abs(logs - med)), 0.5)
            out = np.abs(logs - med) > self.k * scale
            if not out.any():
                continue
            lo, hi = np.percentile(lengths, [5, 95])
            typical = f"{int(lo):,}-{int(hi):,} for 90% of {name} examples, median {round(math.exp(med)):,}"
            for i, n in zip(index[sel][out], lengths[out]):
                loc = self.table.location(int(i))
                side = "longer" if math.log(max(n, 1)) > med else "shorter"
                yield Finding(
                    f"example has {int(n):,} characters, far {side} than the rest ({typical})",
                    path=loc.path,
                    line=loc.line,
                )
