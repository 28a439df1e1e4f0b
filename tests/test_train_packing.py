"""Packing: rows without padding, attention kept inside each example, and the padding it saves."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from curate.train.data import IGNORE_INDEX, Encoded  # noqa: E402
from curate.train.packing import (  # noqa: E402
    FlatteningCollator,
    PaddingCollator,
    length_grouped,
    pack,
    packed_rows,
    padding_fraction,
    single_rows,
)
from curate.train.tinymodel import build_model, build_tokenizer  # noqa: E402


def test_first_fit_decreasing_fills_rows_without_splitting_examples():
    assert pack([5, 3, 8, 2, 6], capacity=10) == [[2, 3], [1, 4], [0]]


def test_padding_fraction_and_length_grouping():
    lengths = [10, 100, 10, 100]
    assert padding_fraction(lengths, 2) == pytest.approx(0.45)
    grouped = [lengths[i] for i in length_grouped(lengths, 2, seed=0)]
    assert padding_fraction(grouped, 2) == 0.0


def test_flattening_restarts_positions_and_ignores_each_first_label():
    a = Encoded([1, 2, 3], [IGNORE_INDEX, 2, 3])
    b = Encoded([4, 5], [4, 5])
    batch = FlatteningCollator()(packed_rows([a, b], max_seq_len=8))
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 2, 3, IGNORE_INDEX, 5]]  # never trained across examples
    assert "attention_mask" not in batch


def per_example_losses(logits, labels):
    """The mean next-token loss of each example, from logits and labels of shape [n, length]."""
    losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=IGNORE_INDEX, reduction="none"
    )
    return losses.sum(1) / (labels[:, 1:] != IGNORE_INDEX).sum(1)


@pytest.mark.slow
def test_packed_and_unpacked_batches_give_the_same_per_example_loss():
    tokenizer = build_tokenizer(["alpha beta gamma delta epsilon"] * 4, vocab_size=300)
    model = build_model(tokenizer, hidden_size=32, layers=1).eval()
    model.config.use_cache = False
    generator = torch.Generator().manual_seed(0)
    examples = []
    for length in (9, 14, 6, 11):
        ids = torch.randint(10, 250, (length,), generator=generator).tolist()
        examples.append(Encoded(ids, [IGNORE_INDEX] * 3 + ids[3:]))
    with torch.no_grad():
        padded = PaddingCollator(tokenizer.pad_token_id)(single_rows(examples))
        unpacked = per_example_losses(
            model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"]).logits, padded["labels"]
        )
        flat = FlatteningCollator()(single_rows(examples))
        logits = model(input_ids=flat["input_ids"], position_ids=flat["position_ids"]).logits
    packed, start = [], 0
    for example in examples:
        end = start + len(example.input_ids)
        packed.append(per_example_losses(logits[:, start:end], flat["labels"][:, start:end])[0])
        start = end
    assert torch.allclose(torch.stack(packed), unpacked, atol=1e-5)
