"""Token counts: the estimate, and exact counts for Q002 with `--tokenizer` (a word-level tokenizer built offline)."""

from __future__ import annotations

import json

import pytest
from conftest import conv, write_jsonl

from curate.errors import CurateError
from curate.tokens import estimate_tokens, load_tokenizer

QUIET = '{{ raise_exception("no") }}'  # a template that rejects every conversation
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}\n{% endfor %}"


def _save_tokenizer(folder, chat_template=None, bos_eos=False) -> str:
    """A word-level tokenizer: one token per word or run of punctuation, unknown words included.

    With `bos_eos`, encoding a text adds `<s>` before and `</s>` after it (as Llama-style tokenizers do).
    """
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {"[UNK]": 0, "one": 1, "two": 2, "<": 3, ">": 4, "user": 5, "assistant": 6, "<s>": 7, "</s>": 8}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    if bos_eos:
        backend.post_processor = tokenizers.processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 7), ("</s>", 8)]
        )
    special = {"bos_token": "<s>", "eos_token": "</s>"} if bos_eos else {}
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", **special)
    if chat_template:
        tok.chat_template = chat_template
    tok.save_pretrained(str(folder))
    return str(folder)


def _q002(run, tokenizer: str, max_tokens: int) -> list[str]:
    with open("curate.toml", "w") as f:
        f.write(f"[rules.Q002]\nmax_tokens = {max_tokens}\n")
    result = run("lint", "train.jsonl", "--select", "Q002", "--tokenizer", tokenizer, "--output-format", "json")
    assert result.exit_code in (0, 1), result.output
    return [f"{d['line']}: {d['message']}" for d in json.loads(result.output)["diagnostics"]]


@pytest.fixture
def data(tmp_path):
    # words per turn: 3 + 4 (punctuation runs count: "two." is "two" and "."), 1 + 1
    write_jsonl(tmp_path / "train.jsonl", [conv("one two three", "four, five two."), conv("one", "two")])


def test_estimate():
    assert estimate_tokens("abcdefgh") == 2  # 8 characters / 4
    assert estimate_tokens("a b c d") == 3  # 4 word pieces * 3/4
    assert estimate_tokens("") == 0


def test_exact_count_of_the_plain_text(run, tmp_path, data):
    tok = _save_tokenizer(tmp_path / "tok")
    tail = "the reply would be truncated in training"
    assert _q002(run, tok, 8) == []
    assert _q002(run, tok, 7) == [f"1: example has 8 tokens (exact), over max_tokens 7: {tail}"]


def test_exact_count_of_the_plain_text_leaves_out_bos_and_eos(run, tmp_path, data):
    # one conversation is trained as one sequence: per-message <s> ... </s> would add 2 tokens per turn
    tok = _save_tokenizer(tmp_path / "tok", bos_eos=True)
    tail = "the reply would be truncated in training"
    assert _q002(run, tok, 8) == []
    assert _q002(run, tok, 7) == [f"1: example has 8 tokens (exact), over max_tokens 7: {tail}"]


def test_exact_count_through_the_chat_template(run, tmp_path, data):
    tok = _save_tokenizer(tmp_path / "tok", TEMPLATE)
    tail = "the reply would be truncated in training"
    # each turn adds "<", its role and ">": 8 + 2 * 3 = 14 and 2 + 2 * 3 = 8
    assert _q002(run, tok, 14) == []
    assert _q002(run, tok, 7) == [
        f"1: example has 14 tokens (exact), over max_tokens 7: {tail}",
        f"2: example has 8 tokens (exact), over max_tokens 7: {tail}",
    ]


def test_a_template_that_writes_bos_counts_it_once(run, tmp_path, data):
    # Llama-style: the template writes <s> and the tokenizer would add <s> ... </s> to any text it encodes;
    # the conversation is tokenized as its template renders it, with no second BOS or an EOS
    tok = _save_tokenizer(tmp_path / "tok", "{{ bos_token }}" + TEMPLATE, bos_eos=True)
    tail = "the reply would be truncated in training"
    assert _q002(run, tok, 15) == []  # 14 as above, plus the template's <s>
    assert _q002(run, tok, 14) == [f"1: example has 15 tokens (exact), over max_tokens 14: {tail}"]


def test_a_template_that_rejects_the_conversation_counts_the_plain_text(run, tmp_path, data):
    tok = _save_tokenizer(tmp_path / "tok", QUIET)
    tail = "the reply would be truncated in training"
    assert _q002(run, tok, 7) == [f"1: example has 8 tokens (exact), over max_tokens 7: {tail}"]


def test_a_missing_tokenizer_is_one_error_line(run, tmp_path, data):
    pytest.importorskip("transformers")
    with pytest.raises(CurateError, match="^cannot load tokenizer '.*nowhere'"):
        load_tokenizer(str(tmp_path / "nowhere"))
    result = run("lint", "train.jsonl", "--select", "Q002", "--tokenizer", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot load tokenizer") and result.output.count("\n") == 1
