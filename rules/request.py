"""Q009, Q010: prompts a text-only conversation cannot answer (missing material, non-text deliverables)."""

from __future__ import annotations

import re

from curate.diagnostics import Finding
from curate.registry import record_rule
from curate.rules.intent import prose, turns
from curate.rules.placeholder import only_placeholder
from curate.text import ascii_runs_table

_MEDIA = (
    r"(?:image|picture|photo(?:graph)?|pic|screenshot|scan|video|video clip|audio(?: clip| file)?|recording"
    r"|sound clip|voice (?:note|message)|attachment|attached file|pdf|spreadsheet|x-ray|scan)s?"
)
_POINTER = r"(?:attached|given|provided|following|accompanying|uploaded|enclosed|this|these|above|below|shown)"
# A media item the prompt points at: no text-only conversation holds one.
_MEDIA_REF = re.compile(
    rf"\b{_POINTER}\s+(?:\w+\s+){{0,2}}?{_MEDIA}\b|\b(?:see|find) (?:the )?attached\b"
    rf"|\b(?:in|from|of) the {_MEDIA}\b(?! (?:of|that|which|where|with|showing|about|you)\b)"
    rf"|\b(?:transcribe|watch|listen to|look at)\s+(?:the|this|these|my)\s+{_MEDIA}\b"
    r"|^\s*(?:attached|an?|the) (?:image|photo|picture|file|attachment)\b",
    re.I | re.M,
)
_DOC = (
    r"(?:article|text|passage|paragraph|essay|story|poem|document|e-?mail|letter|code|table|data(?:set)?|list"
    r"|sentences?|tweet|review|conversation|dialogue|speech|report|excerpt|news|lyrics|song|abstract|summary"
    r"|statement|description|recipe|program|function|snippet|query|equation|problem|question|word)"
)
# "the following article" with nothing following ("this" and "above" only for documents: "why did you choose this
# question?" points back at the reply's own content).
_DOC_REF = re.compile(
    rf"\b(?:following|given|provided|below|attached)\s+(?:\w+\s+){{0,2}}?{_DOC}s?\b"
    r"|\b(?:this|above)\s+(?:article|text|passage|paragraph|essay|document|e-?mail|letter|table|data"
    r"|tweet|review|poem|story|excerpt|report|speech)\b",
    re.I,
)
# With an empty alpaca `input`: "the given condition", "the information provided" point at the input that is not there.
_INPUT_REF = re.compile(
    r"\b(?:the|this|these)\s+(?:following|given|provided|above|below|attached|specified|mentioned)"
    r"\s+[a-z]\w*|\b(?:the|this)\s+[a-z]\w*\s+(?:given|provided|below|above|shown)\b"
    r"(?!\s+(?:by|to|in the|for|that|with|as|here)\b)",
    re.I,
)
# Material after the reference, in the instruction itself: `...sentence: The tree was planted.`
_MATERIAL = re.compile(r"[:\"“'\n]\s*\S")
# A coding task: "a given list" is then the function's parameter, and a URL the program's input.
_CODE_TASK = re.compile(
    r"\b(?:function|program|code|script|algorithm|method|class|query|regex|regular expression"
    r"|python|java(?:script)?|c\+\+|c#|sql|html|css|bash|shell|api|implement|compile|loop"
    r"|machine learning|classifier|neural network|train a model)\b",
    re.I,
)
_URL = re.compile(r"https?://\S+|\bwww\.\S+", re.I)
_READ_VERB = re.compile(
    r"\b(?:summari[sz]e|read|analy[sz]e|review|describe|extract|classify|evaluate|critique"
    r"|according to|based on|from (?:this|the) (?:article|page|website|link|site|post)"
    r"|what (?:is|does) (?:this|the) (?:article|page|website|post))\b",
    re.I,
)
_ABOUT_URLS = re.compile(r"\b(?:urls?|domains?|hyperlinks?|regex|html|links? (?:text|format)|shorten|valid)\b", re.I)


# Substrings one of which every match of a pattern holds, in lower case: the cheap test first. In an ASCII text
# IGNORECASE folds only ASCII letters, so a match's text lower-cased holds the substring; other text runs the pattern.
_MEDIA_STEMS = (  # `_MEDIA_REF`
    "image",
    "pic",
    "photo",
    "screenshot",
    "scan",
    "video",
    "audio",
    "recording",
    "sound clip",
    "voice",
    "attach",
    "pdf",
    "spreadsheet",
    "x-ray",
    "file",
)
_LINK_STEMS = ("http", "www.")  # `_URL`
_DOC_POINTERS = ("following", "given", "provided", "below", "attached", "this", "above")  # `_DOC_REF`
_INPUT_POINTERS = (  # `_INPUT_REF`
    "following",
    "given",
    "provided",
    "above",
    "below",
    "attached",
    "specified",
    "mentioned",
    "shown",
)
_CODE_WORDS = (  # `_CODE_TASK` ("class" for "classifier", "java" for "javascript")
    "function",
    "program",
    "code",
    "script",
    "algorithm",
    "method",
    "class",
    "query",
    "regex",
    "regular expression",
    "python",
    "java",
    "c++",
    "c#",
    "sql",
    "html",
    "css",
    "bash",
    "shell",
    "api",
    "implement",
    "compile",
    "loop",
    "machine learning",
    "neural network",
    "train a model",
)


_FIRST_TURN_STEMS = _LINK_STEMS + _DOC_POINTERS


def _holds(low: str | None, stems: tuple[str, ...]) -> bool:
    """Whether a lower-cased ASCII text holds one of `stems`; True for a text that is not ASCII (`low` None)."""
    return low is None or any(map(low.__contains__, stems))


def _may_point(low: str | None, first_turn: bool) -> bool:
    """False when an ASCII text holds none of the words a media, link or (first turn) document reference needs."""
    return _holds(low, _MEDIA_STEMS) or (first_turn and _holds(low, _FIRST_TURN_STEMS))


def _words(text: str) -> int:
    return len(text.split())


def _missing(prompt: str, first_turn: bool, no_input: bool = False) -> str | None:
    """What the prompt points at that the conversation does not hold, or None (`no_input`: an alpaca record
    whose `input` is empty or a placeholder, `prompt` then being its instruction)."""
    text = prose(prompt)
    low = text.lower() if text.isascii() else None  # for the substring tests before each pattern (see `_holds`)
    if not no_input and not _may_point(low, first_turn):
        return None
    links = _holds(low, _LINK_STEMS)  # without them `_URL` finds nothing and replaces nothing
    if (links or _holds(low, _CODE_WORDS)) and _CODE_TASK.search(_URL.sub(" ", text) if links else text):
        return None
    m = _holds(low, _MEDIA_STEMS) and _MEDIA_REF.search(text)
    if m:
        return f"refers to {m.group(0).strip()!r}, which a text conversation cannot hold"
    urls = _URL.findall(text) if links else []
    if urls and first_turn:
        rest = _URL.sub(" ", text)
        if _words(rest) <= 30 and _READ_VERB.search(rest) and not _ABOUT_URLS.search(rest):
            return f"asks to read {urls[0][:60]!r}, a link whose content is not in the conversation"
    if no_input and _holds(low, _INPUT_POINTERS):
        for m in _INPUT_REF.finditer(text):
            after = text[m.end() :]
            if _words(after) <= 12 and not _MATERIAL.search(after):
                return f"refers to {m.group(0).strip()!r}, but the input is empty"
    if first_turn and _holds(low, _DOC_POINTERS):
        for m in _DOC_REF.finditer(text):
            after = text[m.end() :].strip(" \t\r\n.:;?!\"'")
            if not after or only_placeholder(after, False):
                before = text[: m.start()]
                if _words(before) <= 25 and "\n" not in before.strip():
                    return f"refers to {m.group(0).strip()!r}, but nothing follows"
    return None


def _prompt(record) -> tuple[str, bool]:
    """(the user text the reply answers, whether it is the conversation's first user turn)."""
    users = turns(record).users
    if not users:
        return "", False
    return users[-1].text, len(users) == 1


@record_rule("Q009", "missing-context", "warning")
def missing_context(record, ctx):
    """The prompt points at material that is not in the conversation.

    ## What it does
    Reads the user turn the final reply answers (outside code) and flags it
    when it points at something a text conversation does not hold: an
    attached or given image, photo, screenshot, video, recording, PDF or
    file (`the attached photo`, `in the image`, `see attached`); a bare
    URL whose page it must read (`Summarize this article: https://...`);
    or, in the first turn, `the following article` / `the given text` with
    nothing after it. In an alpaca record whose `input` is empty (or a
    placeholder), any `the given X`, `the following X` or `the information
    provided` in the instruction points at the missing input. A coding
    task is skipped: there `the given list` is a parameter and a URL the
    program's input.

    ## Why is this bad?
    The reply was written without the material, so it is invented: the
    model learns to describe photos it never saw and to summarize pages it
    never read, with confidence.

    ## Example
    ```json
    {"instruction": "Summarize the following article", "input": "", "output": "The article discusses..."}
    ```

    ## Fix
    Add the material as text (the article, the table, a transcript), or
    drop the record.
    """
    text, first = _prompt(record)
    data = record.data
    no_input = False
    if record.fmt == "alpaca" and isinstance(data, dict) and isinstance(data.get("instruction"), str):
        value = data.get("input")
        no_input = not isinstance(value, str) or not value.strip() or bool(only_placeholder(value, False))
        text = data["instruction"] if no_input else text
    if text:
        found = _missing(text, first, no_input)
        if found:
            yield Finding(f"prompt {found}", pointer=_user_pointer(record))


def _user_pointer(record) -> str | None:
    users = turns(record).users
    return users[-1].content_pointer if users else None


# ---- Q010 non-text requests ---------------------------------------------------------------------------------

_NON_TEXT = re.compile(
    r"\b(?:draw|sketch|paint|illustrate|render|animate|photograph|film|record (?:a|an|your|yourself|the)"
    r"|sing|hum)\b(?! (?:up|upon|on (?:the|your|my) (?:experience|knowledge)|conclusions?|attention|parallels?"
    r"|inspiration|a (?:comparison|conclusion|distinction|line between)|comparisons?|from)\b)"
    r"|\b(?:design|create|generate|make|produce|build|compose|take|upload|send)\s+(?:me\s+)?(?:a|an|the|your|some)?"
    r"\s*(?:\w+\s+){0,2}?(?:logo|icon|image|picture|photo(?:graph)?|illustration|drawing|painting|sketch|poster"
    r"|infographic|animation|video|gif|3d model|audio|sound ?track|recording|podcast episode|melody|tune|collage"
    r"|visual(?:ization)?|chart|graph|diagram|mock-?up|wireframe)s?\b",
    re.I,
)
_TEXT_FORM = re.compile(
    r"\b(?:describe|description|ascii|svg|html|css|code|python|javascript|latex|tikz|matplotlib"
    r"|mermaid|graphviz|script for|outline|plan|idea|concept|suggest|slogan|tagline|caption"
    r"|title|lyrics|steps|instructions|how (?:to|do|would|can)|tips|explain|list)\b",
    re.I,
)
_PRETEND = re.compile(
    r"!\[[^\]]*\]\([^)]*\)|\[(?:image|picture|photo|logo|drawing|video|audio|insert[^\]]*)\]|<(?:image|img)\b"
    r"|\((?:image|picture|photo|drawing|sketch|logo) (?:of|shows?)\b"
    r"|\.(?:png|jpe?g|gif|svg|mp3|mp4|wav|obj|stl)\b"
    r"|^\s*(?:here (?:is|are)|attached (?:is|are)|i(?:'ve| have) (?:drawn|created|designed|recorded|rendered|made|"
    r"attached|sketched|painted))\b(?:(?!\n).){0,80}\b(?:logo|image|picture|drawing|sketch|painting|illustration|"
    r"model|recording|video|design|animation|poster)\b"
    r"|cannot be (?:fulfilled|completed|done) by (?:a )?(?:gpt|language|text)|<\s*no ?output\s*>",
    re.I | re.M,
)


# `_NON_TEXT` in parts, for a test before it: its first branch is one of `_ACTS` as a whole word, its second one of
# `_MAKES` as a whole word and one of `_DELIVERABLES` anywhere. In an ASCII text IGNORECASE folds only ASCII
# letters and a whole word is a maximal run of [A-Za-z0-9_]: `_WORD_RUNS` makes every other byte a space.
_ACTS = frozenset(b"draw sketch paint illustrate render animate photograph film record sing hum".split())
_MAKES = frozenset(b"design create generate make produce build compose take upload send".split())
_DELIVERABLES = (
    *("logo", "icon", "image", "picture", "photo", "illustration", "drawing", "painting", "sketch", "poster"),
    *("infographic", "animation", "video", "gif", "3d model", "audio", "sound", "recording", "podcast episode"),
    *("melody", "tune", "collage", "visual", "chart", "graph", "diagram", "mock", "wireframe"),
)
_WORD_RUNS = ascii_runs_table(b"0123456789_")


def _may_ask(text: str) -> bool:
    """False when `_NON_TEXT` cannot match an ASCII text."""
    words = text.encode().translate(_WORD_RUNS).split()
    if not _ACTS.isdisjoint(words):
        return True
    return not _MAKES.isdisjoint(words) and any(map(text.lower().__contains__, _DELIVERABLES))


def _non_text(prompt: str) -> str | None:
    text = prose(prompt)
    if text.isascii() and not _may_ask(text):
        return None
    m = _NON_TEXT.search(text)
    if not m or _TEXT_FORM.search(text):
        return None
    return m.group(0).strip()


@record_rule("Q010", "non-text-request", "warning")
def non_text_request(record, ctx):
    """The prompt asks for something a text model cannot produce, and the reply pretends to or is empty.

    ## What it does
    Flags a record whose last user turn asks to draw, sketch, paint, render,
    animate, photograph or record something, or to design, create or
    generate a logo, image, illustration, poster, video, audio, 3D model or
    diagram, when the reply is empty, a placeholder, says the task cannot be
    done by a text model, or pretends to deliver it (`Here is the logo`,
    an image link, `[image]`, a file name such as `house.obj`). A prompt
    that names a text form (a description, SVG, ASCII art, code, a plan,
    lyrics) is skipped, and so is a reply that describes instead of
    pretending.

    ## Why is this bad?
    A text model cannot return an image or a recording. Trained on such
    pairs, it learns to claim deliverables it did not make, or to answer
    with a refusal where the data meant an answer.

    ## Example
    ```json
    {"instruction": "Design a logo for a bakery.", "input": "", "output": "Here is the logo: [image]"}
    ```

    ## Fix
    Drop the record, or rewrite the prompt to ask for a text deliverable
    (a description of the logo, SVG code) and the reply to match.
    """
    _, reply, users = turns(record)
    if not users:
        return
    asked = _non_text(users[-1].text)
    if not asked:
        return
    if not reply.strip() or only_placeholder(reply, True):
        how = "the reply is empty or a placeholder"
    elif _PRETEND.search(prose(reply)):
        how = "the reply pretends to deliver it or says it cannot"
    else:
        return
    yield Finding(f"prompt asks for a non-text deliverable ({asked!r}) and {how}", pointer=users[-1].content_pointer)
