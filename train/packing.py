"""Batches without padding: examples packed into rows, attention kept inside each example.

With packing on, examples are packed first-fit-decreasing into rows of at most
``max_seq_len`` tokens; a batch concatenates its rows' examples into one
sequence whose position ids restart at 0 for every example. Given no attention
mask, transformers builds a block-diagonal causal mask from those position ids
(the ``DataCollatorWithFlattening`` convention), so no token attends across
examples and no position is padding. The first label of every example is
ignored, so no example is trained to predict the next one's first token.

With packing off, batches hold examples of similar length (length-grouped),
padded to the longest in the batch.
"""

from __future__ import annotations

import random

from curate.train.data import IGNORE_INDEX, Encoded


def pack(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped first-fit-decreasing into rows of at most ``capacity`` tokens."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        for r, free in enumerate(room):
            if lengths[i] <= free:
                rows[r].append(i)
                room[r] -= lengths[i]
                break
        else:
            rows.append([i])
            room.append(capacity - lengths[i])
    return [sorted(row) for row in rows]


def length_grouped(lengths: list[int], batch_size: int, seed: int) -> list[int]:
    """An order of the examples in which each batch holds similar lengths; the batches themselves are shuffled."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    random.Random(seed).shuffle(batches)
    return [i for batch in batches for i in batch]


def padding_fraction(lengths: list[int], batch_size: int) -> float:
    """The share of computed positions that are padding when consecutive examples are padded per batch."""
    total = padded = 0
    for start in range(0, len(lengths), batch_size):
        batch = lengths[start : start + batch_size]
        total += max(batch) * len(batch)
        padded += max(batch) * len(batch) - sum(batch)
    return round(padded / total, 4) if total else 0.0


def packed_rows(examples: list[Encoded], max_seq_len: int) -> list[dict]:
    """The training rows with packing on: each holds whole examples and at most ``max_seq_len`` tokens."""
    rows = pack([len(e.input_ids) for e in examples], max_seq_len)
    return [{"examples": [_example(examples[i]) for i in row]} for row in rows]


def single_rows(examples: list[Encoded]) -> list[dict]:
    """One row per example (eval, or training without packing)."""
    return [{"examples": [_example(e)]} for e in examples]


def _example(encoded: Encoded) -> dict:
    return {"input_ids": encoded.input_ids, "labels": encoded.labels}


class FlatteningCollator:
    """Concatenate every example of a batch into one sequence with per-example position ids; no padding."""

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        input_ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for row in rows:
            for example in row["examples"]:
                input_ids += example["input_ids"]
                labels += [IGNORE_INDEX, *example["labels"][1:]]
                positions += range(len(example["input_ids"]))
        return {
            "input_ids": torch.tensor([input_ids]),
            "labels": torch.tensor([labels]),
            "position_ids": torch.tensor([positions]),
        }


class PaddingCollator:
    """Pad the batch's examples to the longest one (packing off); labels padded with the ignore index."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        examples = [example for row in rows for example in row["examples"]]
        width = max(len(e["input_ids"]) for e in examples)

        def padded(key: str, fill: int) -> list[list[int]]:
            return [e[key] + [fill] * (width - len(e[key])) for e in examples]

        mask = [[1] * len(e["input_ids"]) + [0] * (width - len(e["input_ids"])) for e in examples]
        return {
            "input_ids": torch.tensor(padded("input_ids", self.pad)),
            "labels": torch.tensor(padded("labels", IGNORE_INDEX)),
            "attention_mask": torch.tensor(mask),
        }
