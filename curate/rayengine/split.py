"""``curate split --engine ray``: the local split's features, plan and final leak lint, with Ray reading and writing.

Records are read by ``rayengine.read``; each batch's features are ``splitting.features.record_batch``
in ``map_batches`` (the same extractor as locally), gathered on the driver in record order into the
same compact columns as the local split (digests, shingle sets, band keys: no record text). The
clusters, the assignment and its verification are ``splitting.plan`` unchanged, so the same input,
seed and ratios give the same record -> split assignment as the local engine. Workers then write each
record's bytes (one line each) to parts that become ``train-00000-of-0000N.jsonl``, ``eval-...`` (and
``test-...``) shards; the shards are linted with L001-L003 before they move into place, and any held-out
cluster the lint reports moves to train and the shards are written again, as locally.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from curate.config import Config
from curate.errors import CurateError
from curate.locks import StableInputs
from curate.rayengine.fix import SHARD_RECORDS
from curate.rayengine.write import PartWriter, check_output_dir, one_line, publish, shard_plan, staging
from curate.reader import FileInfo
from curate.splitting.features import SplitOptions, collect, record_batch, refuse_unplaced
from curate.splitting.files import LEAK_CODES, SplitReport
from curate.splitting.plan import SplitPlan, plan_split


def split_file_ray(
    path: str,
    output_dir: str,
    ratios: Sequence[float],
    seed: int = 0,
    config: Config | None = None,
    jobs: int = 1,
    address: str | None = None,
) -> SplitReport:
    """Split a dataset file on Ray into shards in ``output_dir`` (new or empty); see ``splitting.files.split_file``."""
    from curate.rayengine.session import connect

    config = config or Config()
    if not os.path.lexists(path):
        raise CurateError(f"{path}: no such file")
    check_output_dir(output_dir, [path], [path])
    with StableInputs([path], exclusive=False) as held:
        connect(address, jobs)
        from curate.rayengine.read import read_records

        records = read_records([FileInfo(path, "unsplit", "")], config.format, config.max_record_bytes)
        opts = SplitOptions.from_config(config)
        plan = plan_split(_features(path, records, opts), ratios, seed, opts)
        with staging(output_dir) as folder:
            lint_moved = 0
            while True:
                moves = _write(records, plan, folder, output_dir)
                staged = [os.path.join(folder, os.path.basename(final)) for _, final in moves]
                for (part, _), name in zip(moves, staged):
                    os.replace(part, name)
                moved = plan.move_to_train(_lint_leaks(staged, plan, config, jobs, address))
                if not moved:
                    break
                lint_moved += moved
                plan.settle()
                for name in staged:
                    os.unlink(name)
            held.check_unchanged()
            publish(list(zip(staged, (final for _, final in moves))))
    counts = {
        name: sum(1 for _, final in moves if os.path.basename(final).startswith(f"{name}-")) for name in plan.names
    }
    outputs = [os.path.join(output_dir, f"{name}-*-of-{counts[name]:05d}.jsonl") for name in plan.names]
    return SplitReport(path, plan, outputs, lint_moved)


def _features(path: str, records, opts: SplitOptions):
    """The local split's feature columns, each batch extracted in a worker, gathered in record order."""
    rows = records.map_batches(_feature_batch, batch_format="pyarrow", fn_kwargs={"opts": opts}).take_all()
    rows.sort(key=lambda r: r["first"])
    problems = [p for r in rows for p in pickle.loads(r["problems"])]
    feats = collect((pickle.loads(r["chunk"]) for r in rows), opts)
    refuse_unplaced(path, problems)
    return feats


def _feature_batch(batch: pa.Table, opts: SplitOptions) -> pa.Table:
    """One row: the batch's first record index, its pickled feature chunk and its records with no conversation."""
    from curate.rayengine.read import to_records

    records = to_records(batch)
    chunk, problems = record_batch(records, opts)
    return pa.table(
        {
            "first": pa.array([records[0].index], pa.int64()),
            "chunk": pa.array([pickle.dumps(chunk)], pa.large_binary()),
            "problems": pa.array([pickle.dumps(problems)], pa.binary()),
        }
    )


def _write(records, plan: SplitPlan, folder: str, output_dir: str) -> list[tuple[str, str]]:
    """Write every record to its split's parts; the (staged part, final shard path) moves, in shard order."""
    import ray

    parts = records.map_batches(
        _split_batch,
        batch_size=SHARD_RECORDS,
        batch_format="pyarrow",
        fn_kwargs={"splits": ray.put(plan.record_splits()), "names": plan.names, "folder": folder},
    ).take_all()
    if sum(p["records"] for p in parts) != len(plan.labels):
        raise CurateError("the Ray split lost track of records; nothing written")
    names = {name: name for name in plan.names}
    moves, _ = shard_plan(parts, output_dir, names, {(name, name) for name in plan.names})
    return moves


def _split_batch(batch: pa.Table, splits, names: tuple, folder: str) -> pa.Table:
    """Each record's bytes on one line, to a part of its split (in a worker)."""
    import ray

    from curate.rayengine.read import to_records

    splits = ray.get(splits) if isinstance(splits, ray.ObjectRef) else splits
    records = to_records(batch)
    if records and records[-1].index >= len(splits):
        raise CurateError(
            "the input changed while curate was reading it (it has more records than on the first "
            "read); nothing was written: run again"
        )
    writer = PartWriter.into(folder)
    for s, name in enumerate(names):
        mine = [r for r in records if splits[r.index] == s]
        writer.lines(name, name, mine[0].index if mine else records[0].index, [one_line(r.raw) for r in mine], ".jsonl")
    return writer.table()


def _lint_leaks(shards: list[str], plan: SplitPlan, config: Config, jobs: int, address: str | None) -> np.ndarray:
    """Clusters of held-out records that L001-L003 report on the written shards (linted together)."""
    from curate.rayengine.lint import lint_paths_ray

    cfg = Config(select=list(LEAK_CODES), rules=config.rules, format=config.format)
    split_of = {p: os.path.basename(p).split("-")[0] for p in shards}
    result = lint_paths_ray(shards, cfg, split_of, (), jobs, address=address)
    if sum(info.records for info in result.files) != len(plan.labels):
        raise CurateError("the leak lint of the shards did not read every record; nothing written")
    held = dict(zip(plan.names[1:], plan.indices()[1:]))
    offset: dict[str, int] = {}
    where: dict[str, int] = {}
    for info in result.files:  # shards of a split, in name order, hold its records in record order
        name = split_of[info.path]
        offset[info.path] = where.get(name, 0)
        where[name] = offset[info.path] + info.records
    bad = [
        held[split_of[p]][offset[p] + line - 1]
        for d in result.diagnostics
        for p, line in ((d.path, d.line), *d.related)
        if split_of.get(p) in held
    ]
    return plan.labels[np.asarray(bad, dtype=np.int64)]
