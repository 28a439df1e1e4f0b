"""Chat-template formatting, loss masks, truncation and record conversion for ``curate train``."""

import json

import pytest

pytest.importorskip("transformers")

from curate.train.data import (  # noqa: E402
    IGNORE_INDEX,
    Example,
    build_dataset,
    encode_example,
    read_examples,
)
from curate.train.tinymodel import EOS, build_tokenizer  # noqa: E402

CONVERSATION = [
    {"role": "system", "content": "You answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "That would be Rome.", "weight": 0},
    {"role": "user", "content": "And of Spain?"},
    {"role": "assistant", "content": "Madrid is the capital of Spain."},
]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [m["content"] for m in CONVERSATION] * 3 + ["x " * 50]
    return build_tokenizer(texts, vocab_size=320)


def labelled_text(tokenizer, encoded):
    return tokenizer.decode([t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX])


def test_mask_covers_exactly_the_trained_assistant_replies(tokenizer):
    encoded = encode_example(tokenizer, Example("d.jsonl", 1, CONVERSATION))
    assert len(encoded.input_ids) == len(encoded.labels)
    expected = f"The capital of France is Paris.{EOS}Madrid is the capital of Spain.{EOS}"
    assert labelled_text(tokenizer, encoded) == expected
    # the input is the tokenizer's own rendering of the whole conversation
    assert tokenizer.decode(encoded.input_ids) == tokenizer.apply_chat_template(CONVERSATION, tokenize=False)


def test_every_labelled_token_is_its_own_input_token(tokenizer):
    encoded = encode_example(tokenizer, Example("d.jsonl", 1, CONVERSATION))
    assert all(label in (IGNORE_INDEX, token) for token, label in zip(encoded.input_ids, encoded.labels))


def test_reply_cut_by_max_seq_len_is_excluded_with_its_line(tokenizer):
    short = Example("d.jsonl", 1, CONVERSATION[:3])
    long = Example("d.jsonl", 2, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x " * 200}])
    data = build_dataset(tokenizer, [short, long], max_seq_len=64)
    kept, excluded = data.kept, data.excluded
    assert len(kept) == 1 and len(kept[0].input_ids) <= 64
    assert [(x.path, x.line) for x in excluded] == [("d.jsonl", 2)]
    assert "max_seq_len" in excluded[0].reason


def test_untrained_tail_is_truncated_not_excluded(tokenizer):
    messages = CONVERSATION[1:3] + [{"role": "user", "content": "x " * 200}]
    data = build_dataset(tokenizer, [Example("d.jsonl", 1, messages)], max_seq_len=40)
    kept, excluded = data.kept, data.excluded
    assert not excluded
    assert len(kept[0].input_ids) == 40
    assert labelled_text(tokenizer, kept[0]) == f"The capital of France is Paris.{EOS}"


def test_example_with_nothing_to_learn_is_excluded(tokenizer):
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "weight": 0}]
    data = build_dataset(tokenizer, [Example("d.jsonl", 7, messages)], max_seq_len=64)
    kept, excluded = data.kept, data.excluded
    assert not kept and excluded[0].line == 7 and "no assistant token" in excluded[0].reason


def test_example_the_template_cannot_render_is_a_finding_not_a_crash():
    tokenizer = build_tokenizer(["hello world"], vocab_size=300)
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}"
        "{{ m['content'] }}<|end|>{% endfor %}"
    )
    good = Example("d.jsonl", 1, CONVERSATION[1:3])
    bad = Example("d.jsonl", 3, [*CONVERSATION[1:3], {"role": "tool", "content": "42"}])
    data = build_dataset(tokenizer, [good, bad], max_seq_len=64)
    assert len(data.kept) == 1
    model = tokenizer.name_or_path or 'the model'
    assert [str(x) for x in data.unrenderable] == [
        f"d.jsonl:3: the chat template of {model} cannot render this example: no tools here"
    ]


def test_sharegpt_and_alpaca_records_become_template_messages(tmp_path):
    sharegpt = tmp_path / "s.jsonl"
    sharegpt.write_text(
        json.dumps({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]})
    )
    assert read_examples(str(sharegpt))[0].messages == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
    ]
    alpaca = tmp_path / "a.jsonl"
    alpaca.write_text(json.dumps({"instruction": "Add", "input": "1+1", "output": "2"}))
    assert read_examples(str(alpaca))[0].messages == [
        {"role": "user", "content": "Add\n\n1+1"},
        {"role": "assistant", "content": "2"},
    ]
    parts = tmp_path / "p.jsonl"
    record = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}], "tools": []}
    parts.write_text(json.dumps(record))
    example = read_examples(str(parts))[0]
    assert example.messages == [{"role": "user", "content": "a"}] and example.tools == []


def test_read_examples_gives_1_based_lines_for_jsonl_and_json_arrays(tmp_path):
    record = {"messages": CONVERSATION[1:3]}
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(json.dumps(record) + "\n\n" + json.dumps(record) + "\n")
    assert [e.line for e in read_examples(str(jsonl))] == [1, 3]
    array = tmp_path / "d.json"
    array.write_text("[\n  " + json.dumps(record) + ",\n  " + json.dumps(record) + "\n]\n")
    assert [e.where for e in read_examples(str(array))] == [f"{array}:2", f"{array}:3"]
