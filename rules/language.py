"""Q011: replies in another language than their prompt."""

from __future__ import annotations

import re
from functools import lru_cache
from operator import methodcaller

from curate.diagnostics import Finding
from curate.errors import CurateError
from curate.registry import record_rule
from curate.rules.intent import prose, turns

_MIN_LETTERS = 40  # shorter texts are not identified reliably
_MAX_CHARS = 300  # characters classified: enough for a confident guess, and the cost grows with length
# Most data is English: a text whose words are mostly ASCII and a fifth of them common English function words
# is English without asking the classifier (the classifier runs on the rest).
_ENGLISH = frozenset(
    "the a an and or of to in is are was were be it that this for on with as by at from not you"
    " your we they he she his her their can will would should do does have has".split()
)
_MIN_CONFIDENCE = 0.95
# A prompt naming a language or asking for a translation: the reply's language is then the asked one.
_LANGUAGE_ASKED = re.compile(
    r"translat|\b(?:in|into|to|from) (?:\w+ )?(?:language|tongue)\b|\blanguages?\b|\bidiom|\bpronounc|\bspell"
    r"|\b(?:english|spanish|french|german|italian|portuguese|dutch|russian|chinese|mandarin|cantonese|japanese"
    r"|korean|arabic|hindi|bengali|urdu|turkish|polish|swedish|norwegian|danish|finnish|greek|hebrew|latin"
    r"|vietnamese|thai|indonesian|malay|swahili|persian|farsi|ukrainian|czech|hungarian|romanian|catalan"
    r"|esperanto|tagalog|filipino|irish|welsh|icelandic|sanskrit|tamil|telugu|punjabi|gujarati|marathi"
    r"|espa[ñn]ol|fran[çc]ais|deutsch|italiano|portugu[êe]s|русск|中文|汉语|日本語|한국어|العربية)\b"
    r"|\b(?:english|spanish|french|german|chinese|japanese)-?speaking\b",
    re.I,
)
_LETTER = re.compile(r"[^\W\d_]")
# Quoted material and function calls (`python('...')`): a quote is often in another language by design.
_QUOTED = re.compile(
    r"\w+\((?:[^()]|\([^()]*\))*\)|\"[^\"\n]{0,400}\"|“[^”\n]{0,400}”|«[^»\n]{0,400}»"
    r"|(?<!\w)'[^'\n]{0,400}'(?!\w)"
)


@lru_cache(maxsize=1)
def _identifier():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise CurateError(
            "rule Q011 needs the py3langid package: pip install 'curate[lang]' (or deselect Q011)"
        ) from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


# Function words of the common Latin-script languages that English text does not use: an ASCII text without
# them holds no evidence of another language, and two such texts are not worth classifying.
_FOREIGN = frozenset(
    "und nicht ist der das ein eine wird sind mit auch oder aber wenn est les des une et pour dans"
    " avec sont nous vous pas qui los las el y es que del por para una con como pero muy il di che"
    " della sono gli anche os uma com mais het een van niet zijn voor ook maar och att det inte"
    " jest nie się oraz".split()
)


_PUNCTUATION = ".,;:!?\"'()"
_STRIP = methodcaller("strip", _PUNCTUATION)


def _fold_table() -> bytes:
    """A `bytes.translate` table: ASCII upper case to lower, `_PUNCTUATION` to spaces, and the separators
    `str.split` knows but `bytes.split` does not (\\x1c-\\x1f) to spaces, so that `bytes.split` on the
    result gives the words `text.lower().translate(punctuation to spaces).split()` gives."""
    table = bytearray(range(256))
    for c in range(ord("A"), ord("Z") + 1):
        table[c] = c + 32
    for c in (*_PUNCTUATION.encode(), *range(0x1C, 0x20)):
        table[c] = 32
    return bytes(table)


_FOLD = _fold_table()
_FOREIGN_ASCII = frozenset(w.encode() for w in _FOREIGN if w.isascii())  # what an ASCII word can be


def _hits(words: list[str], vocabulary: frozenset) -> int:
    """How many words, stripped of punctuation, are in `vocabulary` (counted at C speed)."""
    return sum(map(vocabulary.__contains__, map(_STRIP, words)))


def _maybe_foreign(text: str) -> bool:
    """Whether a text may be in another language than English: not ASCII, or a few foreign function words."""
    head = text[: 4 * _MAX_CHARS]
    if not head.isascii():
        return True
    # every counted word is also a word of the text with its punctuation made spaces: none there, none counted
    # (as bytes: one translate pass lower-cases and blanks punctuation, and bytes are split and hashed faster)
    if _FOREIGN_ASCII.isdisjoint(head.encode().translate(_FOLD).split()):
        return False
    words = head.lower().split()
    hits = _hits(words, _FOREIGN)
    return hits >= 2 and hits * 20 >= len(words)


def _surely_english(text: str) -> bool:
    words = text[:_MAX_CHARS].lower().split()
    if len(words) < 8 or not text[:_MAX_CHARS].isascii():
        return False
    return _hits(words, _ENGLISH) >= len(words) / 5


def _language(text: str) -> str | None:
    """The text's language code when identified with confidence, else None."""
    if _surely_english(text):
        return "en"
    text = text[: 4 * _MAX_CHARS]
    if sum(map(text.count, "{};=()<>")) * 20 > len(text):
        return None  # code without a fence: no natural language to identify
    text = _QUOTED.sub(" ", prose(text))
    text = re.sub(r"https?://\S+|\S+@\S+|[{}\[\]<>=;|\\]", " ", text)
    if len(_LETTER.findall(text)) < _MIN_LETTERS:
        return None
    lang, p = _identifier().classify(text[:_MAX_CHARS])
    return lang if p >= _MIN_CONFIDENCE else None


@record_rule("Q011", "language-mismatch", "warning")
def language_mismatch(record, ctx):
    """The reply is in another language than the prompt.

    ## What it does
    Identifies the language of the last user turn and of the final reply
    (outside code, links, markup, quotations and function calls; a text
    dense in code punctuation is skipped) with py3langid, an offline classifier
    whose model ships in its wheel, and flags the pair when both are
    identified with confidence 0.95 or more and differ. Texts with fewer than
    40 letters are skipped, and so is a prompt that asks for a translation
    or names a language (`in French`, `Spanish`, `translate`, `idiom`). Two
    ASCII texts without the function words of other common Latin-script
    languages (`und`, `est`, `los`, `che`, `het`...) are taken to be in one
    language without running the classifier.

    ## Why is this bad?
    A model trained on replies in another language than the question learns
    to switch language unasked; such pairs usually come from a broken
    translation pipeline or a mixed-up join.

    ## Example
    ```json
    {"messages": [{"role": "user", "content": "What are the main causes of inflation in an economy?"},
                  {"role": "assistant", "content": "Die Inflation wird vor allem durch eine steigende Nachfrage verursacht."}]}
    ```

    ## Fix
    Translate the reply (or the prompt), or drop the record; if the switch is
    intended, say so in the prompt.
    """
    prompt, reply, users = turns(record)
    if not users or not reply:
        return
    if not _maybe_foreign(users[-1].text) and not _maybe_foreign(reply):
        return
    if _LANGUAGE_ASKED.search("\n".join(m.text for m in prompt if m.role in ("system", "user"))):
        return  # tested before the classifier, which costs about a millisecond a text
    theirs = _language(users[-1].text)
    if theirs is None:
        return
    ours = _language(reply)
    if ours is None or ours == theirs:
        return
    yield Finding(
        f"reply is in {ours!r} but the prompt is in {theirs!r}", pointer=record.messages[len(prompt)].content_pointer
    )
