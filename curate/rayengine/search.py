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
import pyarrow.compute as pc

from curate.crossrecord.duplicates import _SALT, exact_duplicates
from curate.crossrecord.leaks import exact_leaks
from curate.crossrecord.matching import as_matches
from curate.crossrecord.settings import RuleSettings, search
from curate.crossrecord.store import BOILERPLATE_MIN_RECORDS, BOILERPLATE_SHARE
from curate.rayengine.rows import key_column
from curate.similarity import ShingleSets, verify_pairs
from curate.similarity.arrays import fmix64
from curate.similarity.lsh import bucket_pairs, cross_bucket_pairs
from curate.similarity.shingling import common_hashes, drop_common, sample_rows
from curate.split_names import EVAL, TEST, TRAIN

ROWS_PER_PART = 1 << 20  # rows per group-by part, about (bounded memory per call)
RULE_ROWS = pa.schema([("part", pa.int32()), ("rule", pa.int8()), ("bucket", pa.uint64()), ("member", pa.int64()),
                       ("bg", pa.int32()), ("right", pa.bool_()), ("group", pa.int8()), ("exact", pa.uint64())])  # fmt: skip
PAIRS = pa.schema([("owner", pa.int64()), ("partner", pa.int64()), ("bg", pa.int32()), ("rule", pa.int8())])
JOINED = pa.schema([("rec", pa.int64()), ("other", pa.int64()), ("bg", pa.int32()), ("rule", pa.int8()),
                    ("group", pa.int8()), ("shingles", pa.list_(pa.uint32()))])  # fmt: skip
VERIFIED = pa.schema([("owner", pa.int64()), ("partner", pa.int64()), ("bg", pa.int32()), ("sim", pa.float64()),
                      ("rule", pa.int8())])  # fmt: skip


class RaySearch:
    """The Ray matchers of one run over its feature rows (``rows.feature_rows``)."""

    def __init__(self, features, settings: RuleSettings, jobs: int):
        import ray

        self.features, self.settings = features, settings
        self.rows = features.count()
        bands = max([search(c).bands for c in settings.full_configs] or [1])
        cpus = int(ray.cluster_resources().get("CPU", jobs))
        self.parts = max(2 * cpus, self.rows * bands // ROWS_PER_PART + 1)
        self._exact: dict | None = None
        self._sets = None
        self._near: dict | None = None

    def matchers(self) -> dict:
        return {"D001": self.exact_duplicates, "L001": self.exact_leaks, "D002": self.near_duplicates,
                "L002": self.near_leaks}  # fmt: skip

    def exact_duplicates(self, c, s, skip, store):
        return self._exact_matches()[0]

    def exact_leaks(self, c, s, skip, store):
        return self._exact_matches()[1] if s.leaks else []

    def near_duplicates(self, c, s, skip, store):
        """D002, as ``duplicates.near_duplicates``."""
        return self._near_matches(store.n)[0]

    def near_leaks(self, c, s, skip, store):
        """L002, as ``leaks.near_leaks``."""
        return self._near_matches(store.n)[1] if s.leaks else []

    def _exact_matches(self) -> tuple[list, list]:
        if self._exact is None:
            found: dict[int, tuple[list, list]] = {0: ([], []), 1: ([], [])}
            if self.rows > 1:  # a pair needs two records
                ds = self.features.select_columns(["index", "group", "exact"])
                ds = ds.map_batches(_with_part, batch_format="pyarrow", fn_kwargs={"key": "exact", "parts": self.parts})
                out = ds.groupby("part", num_partitions=self.parts).map_groups(
                    _exact_part, batch_format="pyarrow", fn_kwargs={"settings": self.settings}
                )
                for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
                    for code in (0, 1):
                        mine = batch["code"] == code
                        found[code][0].append(batch["index"][mine])
                        found[code][1].append(batch["other"][mine])
            self._exact = {code: as_matches(*_joined(found[code])) for code in (0, 1)}
        return self._exact[0], self._exact[1]

    def _near_matches(self, n: int) -> dict:
        """D002's matches (0) and L002's (1), both searched in the same stages."""
        if self._near is None:
            s = self.settings
            configs = {0: s.dup, 1: s.near_leak}
            rules = {rule: (key_column(s, config), search(config)) for rule, config in configs.items() if config}
            found: dict[int, list] = {0: [], 1: []}
            if self.rows > 1 and rules:
                sets = self._boilerplate_free(n)
                members = sets.map_batches(_members, batch_format="pyarrow",
                                           fn_kwargs={"rules": rules, "parts": self.parts})  # fmt: skip
                pairs = members.groupby("part", num_partitions=self.parts).map_groups(
                    _bucket_pairs, batch_format="pyarrow", fn_kwargs={"rules": rules}
                )
                found = self._verify(pairs, sets, rules)
            self._near = {rule: _earliest(found[rule]) for rule in (0, 1)}
        return self._near

    def _boilerplate_free(self, n: int):
        """The feature rows with each set less its boilerplate, as ``store._sets`` (``without_common``)."""
        if self._sets is None:
            common = np.empty(0, np.uint32)
            if n >= BOILERPLATE_MIN_RECORDS:
                sample = sample_rows(n)
                picked = self.features.select_columns(["index", "shingles"]).map_batches(
                    _sampled, batch_format="pyarrow", fn_kwargs={"sample": sample}
                )
                got = [b["shingles"] for b in picked.iter_batches(batch_size=None, batch_format="numpy")]
                hashes = np.concatenate(got or [np.empty(0, np.uint32)])
                common = common_hashes(hashes, n, len(sample), BOILERPLATE_SHARE, BOILERPLATE_MIN_RECORDS)
            self._sets = self.features.map_batches(
                _drop_common, batch_format="pyarrow", fn_kwargs={"common": common}
            ).materialize()
        return self._sets

    def _verify(self, pairs, sets, rules: dict) -> dict:
        """Each rule's verified pairs (numpy columns of ``VERIFIED``): the partner's set attached by a
        group-by on the partner, the owner's and the exact Jaccard by a group-by on the owner."""
        records = sets.map_batches(_record_rows, batch_format="pyarrow", fn_kwargs={"parts": self.parts})
        by_partner = pairs.map_batches(_pair_rows, batch_format="pyarrow", fn_kwargs={"parts": self.parts})
        attached = (
            by_partner.union(records)
            .groupby("part", num_partitions=self.parts)
            .map_groups(_attach, batch_format="pyarrow", fn_kwargs={"parts": self.parts})
        )
        verified = (
            attached.union(records)
            .groupby("part", num_partitions=self.parts)
            .map_groups(_verify_part, batch_format="pyarrow", fn_kwargs={"rules": rules})
        )
        found: dict[int, list] = {0: [], 1: []}
        for batch in verified.iter_batches(batch_size=None, batch_format="pyarrow"):
            for rule in (0, 1):
                found[rule].append(batch.filter(pc.equal(batch["rule"], rule)))
        return found


def _earliest(tables: list) -> list:
    """Per owner, the earliest partner of its first band group with a verified pair (``earliest_verified``)."""
    table = pa.concat_tables(tables) if tables else VERIFIED.empty_table()
    owner, partner, bg, sim = (table[name].to_numpy() for name in ("owner", "partner", "bg", "sim"))
    order = np.lexsort((partner, bg, owner))
    owner, partner, sim = owner[order], partner[order], sim[order]
    first = np.ones(len(owner), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    return as_matches(owner[first].astype(np.int64), partner[first].astype(np.int64), sim[first])


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
    values = np.asarray(arr.values.to_numpy(zero_copy_only=False), dtype=np.uint32)[offsets[0] : offsets[-1]]
    return ShingleSets(values, offsets - offsets[0])


def _drop_common(batch: pa.Table, common: np.ndarray) -> pa.Table:
    """Each set less the ``common`` hashes (``drop_common``, as ``without_common`` filters locally);
    a ``size`` column added."""
    sets = drop_common(_lists(batch["shingles"]), common)
    offsets = pa.array(sets.offsets.astype(np.int32))
    shingles = pa.ListArray.from_arrays(offsets, pa.array(np.asarray(sets.values), pa.uint32()))
    batch = batch.set_column(batch.schema.get_field_index("shingles"), "shingles", shingles)
    return batch.append_column("size", pa.array(sets.sizes(), pa.int64()))


def _members(batch: pa.Table, rules: dict, parts: int) -> pa.Table:
    """One row per (record, band) of each rule's members (``RULE_ROWS``): D002 (rule 0) the records of groups
    train to test, keys salted by group; L002 (rule 1) training records (left) and protected ones (right).
    Only non-empty sets take part; exact copies are left out per bucket (``_copies``)."""
    index, group = batch["index"].to_numpy(), batch["group"].to_numpy()
    has_text = batch["size"].to_numpy() > 0
    out = []
    for rule, (column, settings) in rules.items():
        keep = has_text & ((group >= TRAIN) & (group <= TEST) if rule == 0 else (group == TRAIN) | (group >= EVAL))
        rows = np.flatnonzero(keep)
        keys = _lists(batch[column].take(rows)).values.reshape(len(rows), settings.bands).astype(np.uint64)
        if rule == 0:
            keys ^= _SALT[group[rows]][:, None].astype(np.uint64)
        band = np.arange(keys.shape[1], dtype=np.uint64)
        bucket = ((band << np.uint64(32)) | keys).reshape(-1)
        width = keys.shape[1]
        out.append(pa.table({
            "part": _part_of(bucket ^ np.uint64(rule), parts), "rule": np.full(len(bucket), rule, np.int8),
            "bucket": bucket, "member": np.repeat(index[rows], width),
            "bg": np.tile((band // np.uint64(settings.band_group)).astype(np.int32), len(rows)),
            "right": np.repeat(group[rows] >= EVAL if rule == 1 else np.zeros(len(rows), bool), width),
            "group": np.repeat(group[rows], width), "exact": np.repeat(batch["exact"].to_numpy()[rows], width)},
            schema=RULE_ROWS))  # fmt: skip
    return pa.concat_tables(out) if out else RULE_ROWS.empty_table()


def _bucket_pairs(part: pa.Table, rules: dict) -> pa.Table:
    """The bucket cap's pairs ``(owner, partner)`` of one part's buckets, band group by band group: D002's
    owned by the later record, L002's by the training record."""
    cols = {name: part[name].to_numpy() for name in RULE_ROWS.names}
    out = []
    for rule, (_, settings) in rules.items():
        for g in np.unique(cols["bg"][cols["rule"] == rule]):
            mine = np.flatnonzero((cols["rule"] == rule) & (cols["bg"] == g))
            b, m, r, grp, e = (cols[name][mine] for name in ("bucket", "member", "right", "group", "exact"))
            order = np.lexsort((m, r, b))
            b, m, r, grp, e = b[order], m[order], r[order], grp[order], e[order]
            keep = ~_copies(rule, b, m, r, grp, e)
            if rule == 0:
                earlier, later = bucket_pairs(b[keep], m[keep], settings.fanout)
                out.append((later, earlier, np.full(len(later), g, np.int32), np.full(len(later), 0, np.int8)))
            else:
                left, right = cross_bucket_pairs(b[keep], m[keep], r[keep], settings.fanout)
                out.append((left, right, np.full(len(left), g, np.int32), np.full(len(left), 1, np.int8)))
    if not out:
        return PAIRS.empty_table()
    return pa.Table.from_arrays([pa.array(np.concatenate(x)) for x in zip(*out)], schema=PAIRS)


def _copies(rule: int, bucket, member, right, group, exact) -> np.ndarray:
    """Members that an exact rule already reports or a near search leaves out, found in their bucket
    (copies share every bucket). D002: a member with an earlier one of its group and digest (D001). L002: a
    training member with a protected one of its digest (L001), a protected member with an earlier
    protected one of its digest (``near_leaks`` compares first copies)."""
    order = np.lexsort((member, right, exact, group, bucket) if rule == 0 else (member, right, exact, bucket))
    b, r, g, e = bucket[order], right[order], group[order], exact[order]
    same = np.zeros(len(order), dtype=bool)
    same[1:] = (b[1:] == b[:-1]) & (e[1:] == e[:-1]) & ((g[1:] == g[:-1]) | (rule == 1))
    copy = np.zeros(len(order), dtype=bool)
    if rule == 0:
        copy[order] = same
        return copy
    run = np.cumsum(~same) - 1
    has_right = np.bincount(run, weights=r.astype(np.int64))[run] > 0
    after_right = same.copy()
    after_right[1:] &= r[:-1]
    copy[order] = np.where(r, after_right, has_right)
    return copy


def _record_rows(batch: pa.Table, parts: int) -> pa.Table:
    """The records' sets as ``JOINED`` rows (``other`` -1) keyed by their own index."""
    n = batch.num_rows
    minus = pa.array(np.full(n, -1, np.int64))
    table = pa.Table.from_arrays([batch["index"], minus, minus.cast(pa.int32()), minus.cast(pa.int8()),
                                  batch["group"], batch["shingles"]], schema=JOINED)  # fmt: skip
    return table.append_column("part", pa.array(_part_of(batch["index"].to_numpy(), parts)))


def _pair_rows(batch: pa.Table, parts: int) -> pa.Table:
    """Pairs as ``JOINED`` rows keyed by the partner (``rec``), the owner in ``other``."""
    n = batch.num_rows
    table = pa.Table.from_arrays([batch["partner"], batch["owner"], batch["bg"], batch["rule"], pa.nulls(n, pa.int8()),
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
    table = pa.Table.from_arrays([pairs["other"], pairs["rec"], pairs["bg"], pairs["rule"], records["group"].take(at),
                                  records["shingles"].take(at)], schema=JOINED)  # fmt: skip
    return table.append_column("part", pa.array(_part_of(pairs["other"].to_numpy(), parts)))


def _verify_part(part: pa.Table, rules: dict) -> pa.Table:
    """The part's pairs (keyed by owner, the partner's set attached) whose exact Jaccard reaches their rule's
    threshold, as ``verify_pairs`` verifies them; D002 drops pairs of two groups (a salt collision)."""
    records, pairs, at = _split(part)
    out = [VERIFIED.empty_table()]
    for rule, (_, settings) in rules.items():
        mine = pairs["rule"].to_numpy() == rule
        if rule == 0:
            mine &= pairs["group"].to_numpy() == records["group"].take(at).to_numpy()
        rp, ra = pairs.filter(pa.array(mine)), at[mine]
        rows = np.arange(rp.num_rows, dtype=np.int64)
        kept, sims = verify_pairs(_lists(records["shingles"].take(ra)), _lists(rp["shingles"]),
                                  np.stack([rows, rows], axis=1), settings.threshold)  # fmt: skip
        k = kept[:, 0]
        out.append(pa.Table.from_arrays(
            [pa.array(rp["rec"].to_numpy()[k]), pa.array(rp["other"].to_numpy()[k]), pa.array(rp["bg"].to_numpy()[k]),
             pa.array(sims, pa.float64()), pa.array(np.full(len(k), rule, np.int8))], schema=VERIFIED))  # fmt: skip
    return pa.concat_tables(out)
