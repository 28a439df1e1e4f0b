"""``curate lint --engine ray``: the local engine's lint with its read and record stage on Ray Data.

Stages (docs/ray.md): ``read.read_records`` reads every file in Ray workers; ``map_batches`` runs
``engine.process_chunk`` on batches of ``engine.CHUNK`` records (parse, record rules, fingerprints,
dataset-rule features) in workers; the driver receives, in record order, each batch's diagnostics,
record references, digests and compact features, and runs the dataset rules exactly as
``engine.lint_paths`` does. The rule logic is the local engine's: there is no second copy of it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial

import pyarrow as pa

from curate.config import Config
from curate.engine import CHUNK, LintResult, Plan, lint_paths, process_chunk
from curate.rayengine.read import read_records, to_records
from curate.rayengine.session import connect, require_ray
from curate.reader import FileInfo

RESULT = pa.schema([("first", pa.int64()), ("result", pa.large_binary())])


def lint_paths_ray(
    paths: list[str],
    config: Config | None = None,
    splits: dict[str, str] | None = None,
    references: Iterable[str] = (),
    jobs: int = 1,
    progress=None,
    tokenizer: str | None = None,
    sources: dict[str, str] | None = None,
    address: str | None = None,
) -> LintResult:
    """``engine.lint_paths`` on Ray: the same arguments and result; ``address`` names a cluster to join
    (else ``RAY_ADDRESS``, else a local Ray with ``jobs`` CPUs). No progress bar is drawn."""
    require_ray()
    stages = partial(_stages, address=address, jobs=jobs)
    return lint_paths(paths, config, splits, references, jobs, None, tokenizer, sources, processed=stages)


def _stages(files: list[FileInfo], config: Config, plan: Plan, address: str | None, jobs: int) -> Iterator[tuple]:
    """``process_chunk``'s results of every batch of records, in record order."""
    connect(address, jobs)
    if plan.tokenizer and os.path.exists(plan.tokenizer):  # workers do not share the driver's directory
        plan = replace(plan, tokenizer=os.path.abspath(plan.tokenizer))
    records = read_records(files, config.format, config.max_record_bytes)
    processed = records.map_batches(_process, batch_size=CHUNK, batch_format="pyarrow", fn_kwargs={"plan": plan})
    for batch in processed.iter_batches(batch_size=None, batch_format="pyarrow"):
        for blob in batch["result"].to_pylist():
            yield pickle.loads(blob)


def _process(batch: pa.Table, plan: Plan) -> pa.Table:
    """One batch of records through ``process_chunk`` (in a worker): one row holding its pickled result."""
    records = to_records(batch)
    result = pickle.dumps(process_chunk(records, plan), protocol=5)
    return pa.Table.from_pydict({"first": [records[0].index], "result": [result]}, schema=RESULT)
