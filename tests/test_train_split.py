"""Without --eval, the trainer holds out a leak-free eval set."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")  # the train extra

from curate.train.data import Example  # noqa: E402
from curate.train.run import _split_train_eval  # noqa: E402


def _example(i, question, answer):
    return Example(
        "train.jsonl", i + 1, [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    )


def test_duplicates_stay_on_one_side():
    examples = [
        _example(
            i,
            f"Question number {i} about topic {i * 7} please answer it",
            f"Answer {i}: the value of item {i} is {i * 3} units in total today",
        )
        for i in range(40)
    ]
    copies = [
        _example(40 + j, examples[j].messages[0]["content"], examples[j].messages[1]["content"]) for j in range(10)
    ]
    train, held_out = _split_train_eval(examples + copies, 0.1, seed=3)
    assert len(train) + len(held_out) == 50 and held_out
    text = lambda e: (e.messages[0]["content"], e.messages[1]["content"])  # noqa: E731
    assert not {text(e) for e in train} & {text(e) for e in held_out}
    assert _split_train_eval(examples + copies, 0.1, seed=3)[1] == held_out  # deterministic
