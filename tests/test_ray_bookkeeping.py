"""The Ray fix refuses to publish when its counts disagree: kept + removed must equal the records read,
and the shards must hold exactly the kept and removed records (no Ray needed: the check runs on the driver)."""

from __future__ import annotations

import pytest

from curate.errors import CurateError
from curate.fixer import FixReport
from curate.rayengine.fix import _check_bookkeeping
from curate.rayengine.write import Shard
from curate.reader import FileInfo

INFOS = [FileInfo("a.jsonl", "train", "openai", records=3), FileInfo("b.jsonl", "train", "openai", records=2)]


def _shards(kept: int, removed: int) -> list[Shard]:
    return [
        Shard("a.jsonl", "kept", "out/a-00000-of-00001.jsonl", kept - 1),
        Shard("b.jsonl", "kept", "out/b-00000-of-00001.jsonl", 1),
        Shard("a.jsonl", "rejects", "out/a.rejects-00000-of-00001.jsonl", removed),
    ]


def test_consistent_counts_pass():
    _check_bookkeeping(FixReport(read=5, kept=4, removed=1), INFOS, _shards(4, 1))


@pytest.mark.parametrize(
    ("report", "shards", "numbers"),
    [
        # a worker lost a record: 5 read, but only 4 kept + 0 removed accounted for
        (
            FixReport(read=5, kept=4, removed=0),
            _shards(4, 0),
            "read 5, processed 5, kept 4 in shards holding 4, removed 0",
        ),
        # the kept shards hold one record fewer than the workers kept
        (
            FixReport(read=5, kept=4, removed=1),
            _shards(3, 1),
            "kept 4 in shards holding 3, removed 1 in shards holding 1",
        ),
        # the rejects shard holds one record more than the workers removed
        (FixReport(read=5, kept=4, removed=1), _shards(4, 2), "removed 1 in shards holding 2"),
        # the workers processed fewer records than the files hold
        (FixReport(read=4, kept=3, removed=1), _shards(3, 1), "read 5, processed 4"),
    ],
)
def test_lost_records_stop_the_fix_before_anything_is_published(report, shards, numbers):
    with pytest.raises(CurateError, match="^the Ray fix lost track of records") as info:
        _check_bookkeeping(report, INFOS, shards)
    assert numbers in str(info.value) and str(info.value).endswith("; nothing written")
