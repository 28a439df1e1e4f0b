"""Per-record CPU cost of each stage of the near-duplicate search, timed in one process on one file.

    python bench/stage_costs.py FILE.jsonl [--threshold 0.7] [--num-perm 128]

The stages are the functions both engines run (``curate.similarity.search``),
with D002's settings and its text (the normalized, role-tagged non-system
turns; ``curate.crossrecord.features``):

1. read: read the lines, ``json.loads``, messages, normalized text;
2. shingle: word 3-gram hashes (``ShingleHasher(3, "fast")``);
3. band keys: MinHash signatures -> ``bands`` uint32 keys per record;
4. group-by: candidate pairs from records sharing a (band, key) (``candidates``);
5. verify: exact Jaccard of the candidates, earliest match per record (``earliest_verified``);
6. record rules: ``lint_paths`` with the record rules only (F, R, C, Q, S but C001), for comparison.

It prints microseconds of CPU per record for each, and the bytes per record
the search moves between stages (what a distributed run shuffles): band keys
(``4 * bands``) and shingle hashes (``4 * shingles``).
"""

from __future__ import annotations

import argparse
import json
import time

from curate.config import Config
from curate.engine import lint_paths
from curate.formats import FORMATS, detect, to_messages
from curate.similarity import ShingleHasher, band_keys
from curate.similarity.search import SearchSettings, candidates, earliest_verified
from curate.text import normalize


def near_text(record: dict) -> str:
    """D002's text of a record: its normalized, role-tagged non-system turns."""
    name = detect(record)
    messages = to_messages(record, FORMATS[name]) if name else None
    return "\n".join(
        f"{m.role}: {normalize(m.text)}" for m in messages or () if m.role != "system" and isinstance(m.text, str)
    )


def timed(fn, *args):
    start = time.process_time()
    out = fn(*args)
    return out, time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--num-perm", type=int, default=128)
    args = parser.parse_args()
    settings = SearchSettings(args.threshold, args.num_perm)

    def read():
        with open(args.path, "rb") as f:
            return [near_text(json.loads(line)) for line in f]

    texts, t_read = timed(read)
    n = len(texts)
    sets, t_shingle = timed(ShingleHasher(3, "fast").hash_many, texts)
    keys, t_keys = timed(band_keys, settings, sets)
    pairs, t_group = timed(lambda: list(candidates(settings, keys)))
    (who, _, _), t_verify = timed(earliest_verified, settings, pairs, sets, 1, n)
    _, t_rules = timed(lint_paths, [args.path], Config(select=["F", "R", "C", "Q", "S"], ignore=["C001"]), None, (), 1)
    n_pairs = sum(len(p) for p in pairs)
    rows = [
        ("read + parse + normalize", t_read),
        ("shingle (3-gram hashes)", t_shingle),
        (f"band keys ({settings.bands} bands x {settings.banding[1]} rows)", t_keys),
        (f"group-by -> {n_pairs / n:.1f} candidate pairs/record", t_group),
        (f"verify -> {len(who):,} records with a match", t_verify),
        ("record rules (F,R,C,Q,S)", t_rules),
    ]
    print(f"stage costs on {n:,} records of {args.path} (CPU, one process):")
    for label, seconds in rows:
        print(f"  {label:<48} {seconds:7.2f} s  {seconds / n * 1e6:8.1f} us/record")
    print(
        f"  bytes/record between stages: band keys {4 * settings.bands}, shingle hashes "
        f"{4 * len(sets.values) / n:.0f} (mean {len(sets.values) / n:.0f} shingles)"
    )


if __name__ == "__main__":
    main()
