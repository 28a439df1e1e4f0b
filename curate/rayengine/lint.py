"""``curate lint --engine ray``: the local engine's lint with its read and record stage on Ray Data.

Stages (docs/ray.md): ``read.read_records`` reads every file in Ray workers; ``map_batches`` runs
``engine.process_chunk`` on batches of ``engine.CHUNK`` records (parse, record rules, fingerprints,
dataset-rule features) in workers; the driver receives, in record order, each batch's diagnostics,
record references, digests and compact features, and runs the dataset rules exactly as
``engine.lint_paths`` does. The cross-record features of D001, D002, L001 and L002 stay in Ray as
per-record rows (``rows``), and those rules' matchers run as Ray stages (``search``). The rule logic is
the local engine's: there is no second copy of it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial

import pyarrow as pa

from curate.config import Config
from curate.crossrecord.features import FEATURE
from curate.crossrecord.settings import RuleSettings
from curate.engine import CHUNK, LintResult, Plan, lint_paths, process_chunk
from curate.rayengine.read import read_records, to_records
from curate.rayengine.rows import feature_rows, on_ray, schema, strip
from curate.rayengine.search import RaySearch
from curate.rayengine.session import connect, require_ray
from curate.reader import FileInfo

RESULT = pa.schema([("index", pa.int64()), ("result", pa.large_binary())])  # index -1: a batch's result row

# Below this many records the search runs on the driver, as locally: each Ray group-by costs seconds of
# fixed scheduling, which a small input does not repay (measured in docs/ray.md). The output is the same.
SEARCH_ON_RAY_FROM = 50_000


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


def _stages(
    files: list[FileInfo], config: Config, plan: Plan, shared: dict, address: str | None, jobs: int
) -> Iterator[tuple]:
    """``process_chunk``'s results of every batch of records, in record order; the matchers of the rules
    whose search runs on Ray replaced in the run's shared cross-record results."""
    from ray.data.expressions import col

    connect(address, jobs)
    if plan.tokenizer and os.path.exists(plan.tokenizer):  # workers do not share the driver's directory
        plan = replace(plan, tokenizer=os.path.abspath(plan.tokenizer))
    records = read_records(files, config.format, config.max_record_bytes)  # fills each file's record count
    results = shared.get(FEATURE)
    large = sum(f.records for f in files) >= SEARCH_ON_RAY_FROM
    cross = results.store.settings if results is not None and large and on_ray(results.store.settings) else None
    kwargs = {"plan": plan, "cross": cross}
    processed = records.map_batches(_process, batch_size=CHUNK, batch_format="pyarrow", fn_kwargs=kwargs)
    if results is not None and cross is not None:
        processed = processed.materialize()
        search = RaySearch(processed.filter(expr=col("index") >= 0).drop_columns(["result"]), cross, jobs)
        results.matchers.update(search.matchers())
        processed = processed.filter(expr=col("index") < 0).select_columns(["result"])
    for batch in processed.iter_batches(batch_size=None, batch_format="pyarrow"):
        for blob in batch["result"].to_pylist():
            yield pickle.loads(blob)


def _process(batch: pa.Table, plan: Plan, cross: RuleSettings | None) -> pa.Table:
    """One batch of records through ``process_chunk`` (in a worker): one row holding its pickled result,
    and with ``cross``, the batch's cross-record feature rows (``rows.feature_rows``) after it."""
    records = to_records(batch)
    if not records:
        return (RESULT if cross is None else _schema(cross)).empty_table()
    diags, refs, digests, feats = process_chunk(records, plan)
    if cross is None:
        result = pickle.dumps((diags, refs, digests, feats), protocol=5)
        return pa.Table.from_pydict({"index": [-1], "result": [result]}, schema=RESULT)
    rows = feature_rows(records[0].index, feats[FEATURE], cross)
    feats = {**feats, FEATURE: strip(feats[FEATURE])}
    result = pickle.dumps((diags, refs, digests, feats), protocol=5)
    full = _schema(cross)
    head = {f.name: pa.nulls(1, f.type) for f in full}
    head.update({"index": pa.array([-1], pa.int64()), "result": pa.array([result], pa.large_binary())})
    rows = rows.append_column("result", pa.nulls(rows.num_rows, pa.large_binary())).select(full.names)
    return pa.concat_tables([pa.table(head, schema=full), rows.cast(full)])


def _schema(cross: RuleSettings) -> pa.Schema:
    return schema(cross).insert(1, pa.field("result", pa.large_binary()))
