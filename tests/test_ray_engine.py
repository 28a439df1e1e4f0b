"""``--engine ray`` gives what the local engine gives: the same records read, the same lint output.

One local Ray with 2 CPUs serves every test here (the ``ray_session`` fixture); the tests skip when
Ray is not installed (the ``ray`` extra), except the one that checks the error saying so.
"""

from __future__ import annotations

import gzip
import json

import pytest

from curate.engine import stream_order
from curate.reader import FileInfo, read_file

ray = pytest.importorskip("ray", exc_type=ImportError)


@pytest.fixture(scope="session")
def ray_session():
    from curate.rayengine.session import connect

    started = not ray.is_initialized()
    connect(None, 2)
    yield
    if started:
        ray.shutdown()


def _conv(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}


def _inputs(tmp_path) -> list[str]:
    """One file of every input kind: JSONL (with a blank and a broken line), gzip, JSON array, Parquet, CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = [_conv(i) for i in range(1200)]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n\n{broken\n")
    with gzip.open(tmp_path / "more.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(r) for r in recs[:30]))
    (tmp_path / "eval.json").write_text(json.dumps(recs[:20], indent=1))
    pq.write_table(pa.Table.from_pylist(recs[:40]), tmp_path / "data.parquet")
    (tmp_path / "qa.csv").write_text("prompt,completion\nhi,there\nfoo,bar\n")
    return [str(tmp_path / n) for n in ("train.jsonl", "more.jsonl.gz", "eval.json", "data.parquet", "qa.csv")]


def _infos(paths: list[str]) -> list[FileInfo]:
    return [FileInfo(p, "eval" if "eval" in p else "train", "") for p in paths]


def _key(rec) -> tuple:
    return (rec.index, rec.path, rec.line, rec.split, rec.raw, rec.fmt, rec.error, rec.start, rec.end, rec.stop,
            rec.element)  # fmt: skip


def test_read_records_numbers_every_record_as_the_local_reader(ray_session, tmp_path):
    from curate.rayengine.read import read_records, to_records

    paths = _inputs(tmp_path)
    infos, local_infos = _infos(paths), _infos(paths)
    got = [r for b in read_records(infos, None, 1 << 20).iter_batches(batch_format="pyarrow") for r in to_records(b)]
    expected, index = [], 0
    for info in stream_order(local_infos):
        for rec in read_file(info, None, index, 1 << 20, report_oversize=True):
            expected.append(rec)
            index += 1
    assert [_key(r) for r in got] == [_key(r) for r in expected]
    assert got[0].path.endswith("eval.json") and got[0].index == 0  # protected splits are numbered first
    assert [(i.format, i.records, i.sha256, i.size) for i in infos] == [
        (i.format, i.records, i.sha256, i.size) for i in local_infos
    ]


def test_read_records_reports_an_unreadable_file(ray_session, tmp_path):
    from curate.errors import CurateError
    from curate.rayengine.read import read_records

    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b"".join(json.dumps(_conv(i)).encode() + b"\n" for i in range(2000)))[:-20])
    with pytest.raises(CurateError, match="bad.jsonl.gz: cannot read"):
        read_records(_infos([str(bad)]), None, 1 << 20)
