"""Per-record feature rows of the cross-record search, as Arrow columns (made in workers, kept in Ray).

A worker turns the ``crossrecord`` feature of its chunk (``FeatureChunk``) into one row per record
that a cross-record rule looks at: ``index``, ``group``, ``exact`` (digest), ``shingles`` (the
record's shingle hashes) and one ``keys{k}`` column of band keys per full-text search configuration
(``RuleSettings.full_configs``). Those rows stay in Ray's object store for the search stages
(``rayengine.search``); the chunk sent to the driver keeps only what the driver's rules still need
(``strip``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa

from curate.crossrecord.column import offsets_of
from curate.crossrecord.features import FeatureChunk
from curate.crossrecord.settings import RuleSettings

MOVED = frozenset({"D001", "D002", "L001", "L002"})  # the rules whose search runs on Ray


def on_ray(settings: RuleSettings) -> bool:
    """Whether the run has a rule whose search runs on Ray."""
    return bool(settings.codes & MOVED)


def schema(settings: RuleSettings) -> pa.Schema:
    fields = [("index", pa.int64()), ("group", pa.int8()), ("exact", pa.uint64()), ("shingles", pa.list_(pa.uint32()))]
    fields += [(key_column(settings, c), pa.list_(pa.uint32())) for c in settings.full_configs]
    return pa.schema(fields)


def key_column(settings: RuleSettings, config: tuple) -> str:
    return f"keys{settings.full_configs.index(config)}"


def feature_rows(base: int, chunk: FeatureChunk, settings: RuleSettings) -> pa.Table:
    """One row per record of the chunk that some rule compares (``group >= 0``); ``base`` is the
    chunk's first record index."""
    rows = np.flatnonzero(chunk.group >= 0)
    offsets = offsets_of(chunk.sizes).astype(np.int32)
    shingles = pa.ListArray.from_arrays(pa.array(offsets), pa.array(chunk.shingles, pa.uint32())).take(rows)
    columns = [pa.array(rows + base, pa.int64()), pa.array(chunk.group[rows]), pa.array(chunk.exact[rows]), shingles]
    for config in settings.full_configs:
        keys = chunk.keys[config][rows]
        flat = pa.array(keys.reshape(-1), pa.uint32())
        columns.append(
            pa.ListArray.from_arrays(pa.array(np.arange(len(rows) + 1, dtype=np.int32) * keys.shape[1]), flat)
        )
    return pa.Table.from_arrays(columns, schema=schema(settings))


def strip(chunk: FeatureChunk) -> FeatureChunk:
    """The chunk without what only the Ray search reads (full-text shingles and band keys)."""
    return replace(chunk, sizes=np.zeros(chunk.n, np.uint32), shingles=np.empty(0, np.uint32), keys={})
