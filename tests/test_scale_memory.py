"""The memory-lean forms keep their results: the boilerplate filter by blocks and in place, the record table."""

from __future__ import annotations

import numpy as np
import pytest

import curate.similarity.shingling as shingling
from curate.engine import RecordTable
from curate.records import RecordRef
from curate.similarity import ShingleSets, without_common


def _sets(seed: int, records: int = 400) -> ShingleSets:
    rng = np.random.default_rng(seed)
    shared = np.arange(100, 130)
    return ShingleSets.from_arrays(
        [
            np.concatenate([shared[: rng.integers(0, 30)], rng.integers(1000, 1200, rng.integers(0, 12))])
            for _ in range(records)
        ]
    )


def _reference(sets: ShingleSets, share: float, min_records: int, min_rest: int = 5) -> list[list[int]]:
    """The filter record by record, from its definition (every record sampled)."""
    df: dict[int, int] = {}
    for i in range(len(sets)):
        for v in sets[i].tolist():
            df[v] = df.get(v, 0) + 1
    common = {v for v, c in df.items() if c >= max(min_records, share * len(sets))}
    out = []
    for i in range(len(sets)):
        rest = [v for v in sets[i].tolist() if v not in common]
        out.append(rest if len(rest) >= min_rest else sets[i].tolist())
    return out


@pytest.mark.parametrize("block", [1, 7, 1 << 20])
@pytest.mark.parametrize("in_place", [False, True])
def test_boilerplate_filter_by_blocks_and_in_place_keeps_each_records_rest(monkeypatch, block, in_place):
    monkeypatch.setattr(shingling, "_FILTER_BLOCK", block)
    sets = _sets(block)
    before = sets.values.copy()
    kept = without_common(ShingleSets(sets.values, sets.offsets), share=0.05, min_records=10, in_place=in_place)
    assert [kept[i].tolist() for i in range(len(kept))] == _reference(ShingleSets(before, sets.offsets), 0.05, 10)
    if not in_place:
        assert np.array_equal(sets.values, before)  # the input is untouched
    else:
        assert np.shares_memory(kept.values, sets.values)  # no second copy of the values


def test_record_table_locations_splits_and_digests():
    table = RecordTable()
    table.add([RecordRef("a.jsonl", 1, "eval", 0), RecordRef("a.jsonl", 2, "eval", 1)], [5, 2**64 - 1])
    table.add([RecordRef("b.jsonl", 1, "train", 2)], [7])
    assert len(table) == 3
    assert table.location(2) == ("b.jsonl", 1)
    assert [table.splits[i] for i in range(3)] == ["eval", "eval", "train"]
    assert table.digest(1) == 2**64 - 1
    assert table.digests_at([("a.jsonl", 2), ("b.jsonl", 1), ("b.jsonl", 9), ("c.jsonl", 1)]) == {
        ("a.jsonl", 2): 2**64 - 1,
        ("b.jsonl", 1): 7,
    }
