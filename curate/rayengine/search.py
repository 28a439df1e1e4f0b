"""The matchers of D001, L001 (exact) and D002, L002 (near) as Ray stages over the feature rows.

Each stage is a group-by on a ``part`` column (a hash of the key, ``parts`` values), so one call of a
vectorized function sees every row of the keys it holds (docs/ray.md):

- exact: rows by digest; per part the local matchers ``exact_duplicates`` and ``exact_leaks`` run as
  they are, on that part's rows;
- boilerplate: the driver counts the shingles of the sampled records (``without_common``'s sample),
  workers drop the common ones from every set;
- candidates: one row per (record, band), salted as locally, grouped by bucket; per bucket the cap of
  ``similarity.lsh`` (``bucket_pairs``, ``cross_bucket_pairs``) gives pairs, with their band group;
- verification: the pairs are grouped by the partner's record (its shingle set attached), then by the
  owner's, and ``verify_pairs`` keeps those at the threshold;
- the driver receives the verified pairs and keeps, per owner, the earliest partner of the first band
  group that has one: what ``earliest_verified`` keeps locally.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from curate.crossrecord.duplicates import _SALT, exact_duplicates
from curate.crossrecord.leaks import exact_leaks
from curate.crossrecord.matching import as_matches
from curate.crossrecord.settings import RuleSettings, search
from curate.crossrecord.store import BOILERPLATE_MIN_RECORDS, BOILERPLATE_SHARE
from curate.rayengine.rows import key_column
from curate.similarity import ShingleSets, verify_pairs
from curate.similarity.arrays import fmix64
from curate.similarity.lsh import bucket_pairs, cross_bucket_pairs
from curate.split_names import EVAL, TEST, TRAIN

SAMPLE, MIN_REST = 20_000, 5  # ``without_common``'s defaults, as the store calls it
ROWS_PER_PART = 1 << 20  # rows per group-by part, about (bounded memory per call)
PAIRS = pa.schema([("owner", pa.int64()), ("partner", pa.int64()), ("bg", pa.int32())])
JOINED = pa.schema([("rec", pa.int64()), ("other", pa.int64()), ("bg", pa.int32()), ("group", pa.int8()),
                    ("shingles", pa.list_(pa.uint32()))])  # fmt: skip
VERIFIED = PAIRS.append(pa.field("sim", pa.float64()))


class RaySearch:
    """The Ray matchers of one run over its feature rows (``rows.feature_rows``)."""

    def __init__(self, features, settings: RuleSettings, jobs: int):
        self.features, self.settings = features, settings
        self.rows = features.count()
        bands = max([search(c).bands for c in settings.full_configs] or [1])
        self.parts = max(2 * jobs, self.rows * bands // ROWS_PER_PART + 1)
        self._exact: dict | None = None
        self._sets = None

    def matchers(self) -> dict:
        return {"D001": self.exact_duplicates, "L001": self.exact_leaks, "D002": self.near_duplicates,
                "L002": self.near_leaks}  # fmt: skip

    def exact_duplicates(self, c, s, skip, store):
        return self._exact_matches()[0]

    def exact_leaks(self, c, s, skip, store):
        return self._exact_matches()[1] if s.leaks else []

    def near_duplicates(self, c, s, skip, store):
        """D002: as ``duplicates.near_duplicates`` (``skip``: the records D001 reports)."""
        kwargs = {"column": key_column(s, s.dup), "skip": np.sort(skip), "settings": search(s.dup),
                  "parts": self.parts}  # fmt: skip
        return self._near(_dup_members, _pairs_within, kwargs, store.n, same_group=True)

    def near_leaks(self, c, s, skip, store):
        """L002: as ``leaks.near_leaks`` (``skip``: the records L001 reports)."""
        if not s.leaks:
            return []
        kwargs = {"column": key_column(s, s.near_leak), "skip": np.sort(skip), "settings": search(s.near_leak),
                  "parts": self.parts}  # fmt: skip
        return self._near(_leak_members, _pairs_across, kwargs, store.n, same_group=False)

    def _exact_matches(self) -> tuple[list, list]:
        if self._exact is None:
            found: dict[int, tuple[list, list]] = {0: ([], []), 1: ([], [])}
            if self.rows:
                ds = self.features.select_columns(["index", "group", "exact"])
                ds = ds.map_batches(_with_part, batch_format="pyarrow", fn_kwargs={"key": "exact", "parts": self.parts})
                out = ds.groupby("part").map_groups(_exact_part, batch_format="pyarrow",
                                                    fn_kwargs={"settings": self.settings})
                for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
                    for code in (0, 1):
                        mine = batch["code"] == code
                        found[code][0].append(batch["index"][mine])
                        found[code][1].append(batch["other"][mine])
            self._exact = {code: as_matches(*_joined(found[code])) for code in (0, 1)}
        return self._exact[0], self._exact[1]

    def _near(self, members, pair_rule, kwargs: dict, n: int, same_group: bool) -> list:
        if not self.rows:
            return []
        sets = self._boilerplate_free(n)
        found = sets.map_batches(members, batch_format="pyarrow", fn_kwargs=kwargs)
        pairs = found.groupby("part").map_groups(pair_rule, batch_format="pyarrow",
                                                 fn_kwargs={"fanout": kwargs["settings"].fanout})
        verified = self._verify(pairs, sets, kwargs["settings"].threshold, same_group)
        cols: dict[str, list] = {name: [] for name in VERIFIED.names}
        for batch in verified.iter_batches(batch_size=None, batch_format="numpy"):
            for name in cols:
                cols[name].append(batch[name])
        owner, partner, bg, sim = (np.concatenate(cols[name]) if cols[name] else np.empty(0) for name in cols)
        order = np.lexsort((partner, bg, owner))  # per owner: its first band group, then its earliest partner
        owner, partner, sim = owner[order], partner[order], sim[order]
        first = np.ones(len(owner), dtype=bool)
        first[1:] = owner[1:] != owner[:-1]
        return as_matches(owner[first].astype(np.int64), partner[first].astype(np.int64), sim[first])

    def _boilerplate_free(self, n: int):
        """The feature rows with each set less its boilerplate, as ``store._sets`` (``without_common``)."""
        if self._sets is None:
            common = np.empty(0, np.uint32)
            if n >= BOILERPLATE_MIN_RECORDS:
                sample = np.linspace(0, n - 1, min(n, SAMPLE)).astype(np.int64)
                picked = self.features.select_columns(["index", "shingles"]).map_batches(
                    _sampled, batch_format="pyarrow", fn_kwargs={"sample": sample})
                got = [b["shingles"] for b in picked.iter_batches(batch_size=None, batch_format="numpy")]
                values, counts = np.unique(np.concatenate(got or [np.empty(0, np.uint32)]), return_counts=True)
                common = values[counts >= max(BOILERPLATE_MIN_RECORDS * len(sample) / n,
                                              BOILERPLATE_SHARE * len(sample))]  # fmt: skip
            self._sets = self.features.map_batches(
                _drop_common, batch_format="pyarrow", fn_kwargs={"common": common}).materialize()
        return self._sets

    def _verify(self, pairs, sets, threshold: float, same_group: bool):
        """Verified pairs (``VERIFIED``): the partner's set attached by a group-by on the partner, the
        owner's and the exact Jaccard by a group-by on the owner."""
        records = sets.map_batches(_record_rows, batch_format="pyarrow", fn_kwargs={"parts": self.parts})
        by_partner = pairs.map_batches(_pair_rows, batch_format="pyarrow", fn_kwargs={"parts": self.parts})
        attached = by_partner.union(records).groupby("part").map_groups(
            _attach, batch_format="pyarrow", fn_kwargs={"parts": self.parts})
        return attached.union(records).groupby("part").map_groups(
            _verify_part, batch_format="pyarrow", fn_kwargs={"threshold": threshold, "same_group": same_group})


def _joined(parts: tuple) -> tuple[np.ndarray, np.ndarray]:
    index, other = parts
    return (np.concatenate(index) if index else np.empty(0, np.int64),
            np.concatenate(other) if other else np.empty(0, np.int64))  # fmt: skip


def _part_of(keys: np.ndarray, parts: int) -> np.ndarray:
    return (fmix64(keys.astype(np.uint64)) % np.uint64(parts)).astype(np.int32)


def _with_part(batch: pa.Table, key: str, parts: int) -> pa.Table:
    return batch.append_column("part", pa.array(_part_of(batch[key].to_numpy(), parts)))


def _exact_part(part: pa.Table, settings: RuleSettings) -> pa.Table:
    """D001 and L001 among the rows of one part (every record of each digest it holds): the local matchers
    on these rows, in record order, their positions mapped back to record indices."""
    part = part.sort_by("index")
    index = part["index"].to_numpy()
    c = SimpleNamespace(group=part["group"].to_numpy(), exact=part["exact"].to_numpy())
    codes, found, other = [], [], []
    for code, matches in enumerate((exact_duplicates(c, settings, None, None), exact_leaks(c, settings, None, None))):
        codes += [code] * len(matches)
        found += [m.index for m in matches]
        other += [m.other for m in matches]
    return pa.table({"code": pa.array(codes, pa.int8()), "index": index[np.asarray(found, dtype=np.int64)],
                     "other": index[np.asarray(other, dtype=np.int64)]})  # fmt: skip


def _sampled(batch: pa.Table, sample: np.ndarray) -> pa.Table:
    """The shingle hashes of the batch's sampled records, flattened."""
    mine = np.isin(batch["index"].to_numpy(), sample)
    return pa.table({"shingles": batch["shingles"].filter(pa.array(mine)).combine_chunks().flatten()})


def _lists(column) -> ShingleSets:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    values = np.asarray(arr.values.to_numpy(zero_copy_only=False), dtype=np.uint32)[offsets[0]:offsets[-1]]
    return ShingleSets(values, offsets - offsets[0])


def _drop_common(batch: pa.Table, common: np.ndarray) -> pa.Table:
    """Each set less the ``common`` hashes, unless fewer than ``MIN_REST`` others remain
    (``without_common``'s rule); a ``size`` column added."""
    sets = _lists(batch["shingles"])
    keep = ~np.isin(sets.values, common)
    running = np.concatenate([[0], np.cumsum(keep)])
    kept = running[sets.offsets[1:]] - running[sets.offsets[:-1]]
    keep |= np.repeat(kept < MIN_REST, sets.sizes())
    running = np.concatenate([[0], np.cumsum(keep)])
    sizes = running[sets.offsets[1:]] - running[sets.offsets[:-1]]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    shingles = pa.ListArray.from_arrays(pa.array(offsets), pa.array(sets.values[keep], pa.uint32()))
    batch = batch.set_column(batch.schema.get_field_index("shingles"), "shingles", shingles)
    return batch.append_column("size", pa.array(sizes, pa.int64()))


def _band_rows(index, keys_column, settings, parts: int, salt=None, extra=None) -> pa.Table:
    """One row per (record, band): its bucket (band in the high 32 bits), member, band group and part."""
    keys = _lists(keys_column).values.reshape(len(index), -1).astype(np.uint64)
    if salt is not None:
        keys ^= salt[:, None].astype(np.uint64)
    band = np.arange(keys.shape[1], dtype=np.uint64)
    bucket = ((band << np.uint64(32)) | keys).reshape(-1)
    out = {"part": _part_of(bucket, parts), "bucket": bucket, "member": np.repeat(index, keys.shape[1]),
           "bg": np.tile((band // np.uint64(settings.band_group)).astype(np.int32), len(index))}  # fmt: skip
    for name, values in (extra or {}).items():
        out[name] = np.repeat(values, keys.shape[1])
    return pa.table(out)


def _dup_members(batch: pa.Table, column: str, skip: np.ndarray, settings, parts: int) -> pa.Table:
    """D002's band rows: groups train to test, non-empty sets, not exact copies; keys salted by group."""
    index, group = batch["index"].to_numpy(), batch["group"].to_numpy()
    keep = (group >= TRAIN) & (group <= TEST) & (batch["size"].to_numpy() > 0) & ~np.isin(index, skip)
    batch = batch.filter(pa.array(keep))
    group = batch["group"].to_numpy()
    return _band_rows(batch["index"].to_numpy(), batch[column], settings, parts, _SALT[group])


def _leak_members(batch: pa.Table, column: str, skip: np.ndarray, settings, parts: int) -> pa.Table:
    """L002's band rows: training records (not exact leaks) on the left, protected ones on the right."""
    index, group = batch["index"].to_numpy(), batch["group"].to_numpy()
    has_text = batch["size"].to_numpy() > 0
    keep = has_text & (((group == TRAIN) & ~np.isin(index, skip)) | (group >= EVAL))
    batch = batch.filter(pa.array(keep))
    extra = {"right": batch["group"].to_numpy() >= EVAL, "exact": batch["exact"].to_numpy()}
    return _band_rows(batch["index"].to_numpy(), batch[column], settings, parts, None, extra)


def _pairs_within(part: pa.Table, fanout: int) -> pa.Table:
    """The bucket cap's pairs of one part's buckets, owned by the later record, band group by band group."""
    bucket, member, bg = part["bucket"].to_numpy(), part["member"].to_numpy(), part["bg"].to_numpy()
    out = []
    for g in np.unique(bg):
        mine = np.flatnonzero(bg == g)
        order = mine[np.lexsort((member[mine], bucket[mine]))]
        earlier, later = bucket_pairs(bucket[order], member[order], fanout)
        out.append((later, earlier, np.full(len(later), g, np.int32)))
    return _pair_table(out)


def _pairs_across(part: pa.Table, fanout: int) -> pa.Table:
    """Training-protected pairs of one part's buckets, owned by the training record; a protected record
    whose digest an earlier protected member of its bucket has is left out (``near_leaks``'s first copy)."""
    bucket, member, bg = part["bucket"].to_numpy(), part["member"].to_numpy(), part["bg"].to_numpy()
    right, exact = part["right"].to_numpy(), part["exact"].to_numpy()
    out = []
    for g in np.unique(bg):
        mine = np.flatnonzero(bg == g)
        order = mine[np.lexsort((member[mine], right[mine], bucket[mine]))]
        b, m, r, e = bucket[order], member[order], right[order], exact[order]
        first = np.lexsort((m, e, r, b))  # protected copies of one digest in a bucket: the first stays
        bs, es, rs = b[first], e[first], r[first]
        copy = np.zeros(len(order), dtype=bool)
        copy[first[1:]] = (bs[1:] == bs[:-1]) & (es[1:] == es[:-1]) & rs[1:] & rs[:-1]
        keep = ~copy
        left, right_member = cross_bucket_pairs(b[keep], m[keep], r[keep], fanout)
        out.append((left, right_member, np.full(len(left), g, np.int32)))
    return _pair_table(out)


def _pair_table(parts: list) -> pa.Table:
    if not parts:
        return PAIRS.empty_table()
    owner, partner, bg = (np.concatenate(x) for x in zip(*parts))
    return pa.Table.from_arrays([pa.array(owner, pa.int64()), pa.array(partner, pa.int64()), pa.array(bg)],
                                schema=PAIRS)  # fmt: skip


def _record_rows(batch: pa.Table, parts: int) -> pa.Table:
    """The records' sets as ``JOINED`` rows (``other`` -1) keyed by their own index."""
    n = batch.num_rows
    table = pa.Table.from_arrays([batch["index"], pa.array(np.full(n, -1, np.int64)), pa.array(np.full(n, -1, np.int32)),
                                  batch["group"], batch["shingles"]], schema=JOINED)  # fmt: skip
    return table.append_column("part", pa.array(_part_of(batch["index"].to_numpy(), parts)))


def _pair_rows(batch: pa.Table, parts: int) -> pa.Table:
    """Pairs as ``JOINED`` rows keyed by the partner (``rec``), the owner in ``other``."""
    n = batch.num_rows
    table = pa.Table.from_arrays([batch["partner"], batch["owner"], batch["bg"], pa.nulls(n, pa.int8()),
                                  pa.nulls(n, pa.list_(pa.uint32()))], schema=JOINED)  # fmt: skip
    return table.append_column("part", pa.array(_part_of(batch["partner"].to_numpy(), parts)))


def _split(part: pa.Table) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """(record rows sorted by index, pair rows, each pair row's record row)."""
    is_record = part["other"].to_numpy() < 0
    records = part.filter(pa.array(is_record)).sort_by("rec")
    pairs = part.filter(pa.array(~is_record))
    at = np.searchsorted(records["rec"].to_numpy(), pairs["rec"].to_numpy())
    return records, pairs, at


def _attach(part: pa.Table, parts: int) -> pa.Table:
    """Each pair with its partner's group and set, re-keyed by its owner."""
    records, pairs, at = _split(part)
    table = pa.Table.from_arrays([pairs["other"], pairs["rec"], pairs["bg"], records["group"].take(at),
                                  records["shingles"].take(at)], schema=JOINED)  # fmt: skip
    return table.append_column("part", pa.array(_part_of(pairs["other"].to_numpy(), parts)))


def _verify_part(part: pa.Table, threshold: float, same_group: bool) -> pa.Table:
    """The part's pairs (keyed by owner, the partner's set attached) whose exact Jaccard is at least
    ``threshold``, as ``verify_pairs`` verifies them; with ``same_group``, pairs of two groups are dropped."""
    records, pairs, at = _split(part)
    if same_group:
        same = pairs["group"].to_numpy() == records["group"].take(at).to_numpy()
        pairs, at = pairs.filter(pa.array(same)), at[same]
    rows = np.arange(pairs.num_rows, dtype=np.int64)
    kept, sims = verify_pairs(_lists(records["shingles"].take(at)), _lists(pairs["shingles"]),
                              np.stack([rows, rows], axis=1), threshold)  # fmt: skip
    k = kept[:, 0]
    return pa.Table.from_arrays([pa.array(pairs["rec"].to_numpy()[k]), pa.array(pairs["other"].to_numpy()[k]),
                                 pa.array(pairs["bg"].to_numpy()[k]), pa.array(sims, pa.float64())],
                                schema=VERIFIED)  # fmt: skip
