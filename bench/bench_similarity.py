"""Duplicate and leak detection: `curate lint` against a plain datasketch script, on planted data.

    python bench/bench_similarity.py [--records 100000] [--seed 0] [--skip-baseline]
                                     [--baseline-sample N] [--workdir DIR]

Generates ``train.jsonl`` and ``eval.jsonl`` (``--records`` in all, 10% eval)
with planted exact duplicates, near-duplicates (shingle Jaccard >= 0.8,
checked with ``curate.similarity.jaccard``) and train copies of eval records
(see ``synth.write_planted``). Then, on the same files, each in its own
subprocess so wall time and peak RSS (``os.wait4``) are its own:

- ``curate lint train.jsonl eval.jsonl --no-progress --output-format json``
  (every rule), and the same with ``--select D001,D002,L001,L002`` (only the
  similarity rules, the like-for-like comparison);
- the script a user would write today: the same normalization and word
  3-gram shingles, ``datasketch.MinHash(num_perm=128)`` with ``update`` per
  shingle, ``MinHashLSH(threshold=0.7, num_perm=128)``; each train record
  queries the records before it and is then inserted, then each eval record
  queries the train index. A second, tuned variant shares one set of
  permutations and calls ``update_batch`` (what a datasketch expert writes).

Recall: a planted train pair counts as found when curate reports D001/D002
on the copy with the source as related location (datasketch: the source is
among the copy's query results); a planted leak when curate reports
L001/L002 on the train copy with the eval source related (datasketch: the
copy is among the eval source's query results). "other pairs" counts the
pairs reported beyond the planted ones (datasketch's are unverified LSH
candidates; the generator plants no other similar pairs, so they are false
positives or chance near-duplicates). ``--baseline-sample N``
runs datasketch on the first N train records and as large a share of
eval, and extrapolates its time linearly (its recall is then over the
planted pairs inside the sample); ``--skip-baseline`` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from synth import write_planted  # noqa: E402

KINDS = {"dups": "exact dups", "near": "near dups", "exact_leaks": "exact leaks", "near_leaks": "near leaks"}
SIMILARITY_RULES = "D001,D002,L001,L002"


# --------------------------------------------------------------------------
# The baseline: what a user writes today (runs in its own process)


def baseline(
    train: str, eval_: str, out: str, train_limit: int | None, eval_limit: int | None, tuned: bool = False
) -> None:
    import unicodedata
    from itertools import islice

    from datasketch import MinHash, MinHashLSH

    def normalize(text):
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

    def content_text(content):
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
        return ""

    def minhash(line):
        messages = json.loads(line)["messages"]
        words = "\n".join(f"{m['role']}: {normalize(content_text(m.get('content')))}" for m in messages).split()
        grams = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)} if len(words) >= 3 else {" ".join(words)}
        if tuned:
            m = MinHash(num_perm=128, permutations=permutations, scheme="affine32")
            m.update_batch([gram.encode("utf-8") for gram in grams])
            return m
        m = MinHash(num_perm=128)
        for gram in grams:
            m.update(gram.encode("utf-8"))
        return m

    permutations = MinHash(num_perm=128).permutations
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    within, cross = [], []
    with open(train, "rb") as f:
        for line_no, line in enumerate(islice(f, train_limit), 1):
            m = minhash(line)
            within += [[other, line_no] for other in lsh.query(m)]
            lsh.insert(line_no, m)
    with open(eval_, "rb") as f:
        for line_no, line in enumerate(islice(f, eval_limit), 1):
            cross += [[line_no, other] for other in lsh.query(minhash(line))]
    with open(out, "w") as f:
        json.dump({"within": within, "cross": cross}, f)


# --------------------------------------------------------------------------
# Measurement


def measure(cmd: list[str], stdout_path: str) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit status) of one subprocess."""
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def curate_command() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "curate")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "curate"]


def curate_found(report_path: str, truth: dict) -> tuple[dict, int, dict]:
    """(found count per kind, pairs reported that were not planted, findings per code) from a JSON report."""
    with open(report_path) as f:
        report = json.load(f)
    related = defaultdict(set)
    for d in report["diagnostics"]:
        if d["code"] in ("D001", "D002", "L001", "L002"):
            group = "dup" if d["code"][0] == "D" else "leak"
            related[group, d["path"], d["line"]] |= {(r["path"], r["line"]) for r in d["related"]}
    found = {}
    for kind in KINDS:
        group = "leak" if kind.endswith("leaks") else "dup"
        found[kind] = sum(tuple(src) in related[(group, *copy)] for src, copy, _ in truth[kind])
    reported = sum(len(r) for r in related.values())
    return found, reported - sum(found.values()), report["summary"]["by_code"]


def baseline_found(pairs_path: str, truth: dict, limits: tuple) -> tuple[dict, dict, int]:
    """(found per kind, planted per kind inside the sample, candidate pairs not planted) from the baseline's output."""
    with open(pairs_path) as f:
        pairs = json.load(f)
    within = {tuple(p) for p in pairs["within"]}
    cross = {tuple(p) for p in pairs["cross"]}
    found, planted = {}, {}
    for kind in KINDS:
        src_limit = limits[1] if kind.endswith("leaks") else limits[0]
        inside = [
            (src[1], copy[1])
            for src, copy, _ in truth[kind]
            if src_limit is None or (src[1] <= src_limit and copy[1] <= limits[0])
        ]
        planted[kind] = len(inside)
        found[kind] = sum(p in (cross if kind.endswith("leaks") else within) for p in inside)
    return found, planted, len(within) + len(cross) - sum(found.values())


def row(label: str, wall: float, records: int, rss: float, found: dict, planted: dict, other: int) -> str:
    recalls = "  ".join(f"{found[k] / planted[k] if planted[k] else float('nan'):>11.4f}" for k in KINDS)
    return f"{label:<56} {wall:8.1f} {records / wall:11,.0f} {rss:9,.0f}  {recalls}  {other:11,}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records in train + eval")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the datasketch script")
    parser.add_argument(
        "--baseline-sample",
        type=int,
        metavar="N",
        help="run datasketch on the first N records (of train; eval scaled) and extrapolate its time",
    )
    parser.add_argument("--workdir", help="keep the generated files and reports here (default: a temporary folder)")
    parser.add_argument("--run-baseline", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        work, records, seed = args.generate
        with open(os.path.join(work, "truth.json"), "w") as f:
            json.dump(write_planted(work, int(records), int(seed)), f)
        return
    if args.run_baseline:
        train, eval_, out, train_limit, eval_limit, tuned = args.run_baseline
        baseline(train, eval_, out, int(train_limit) or None, int(eval_limit) or None, tuned == "tuned")
        return

    work = args.workdir or tempfile.mkdtemp(prefix="bench-similarity-")
    os.makedirs(work, exist_ok=True)
    try:
        run(args, os.path.abspath(work))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def run(args, work: str) -> None:
    # Generate in a subprocess: a child's peak RSS starts from its parent's at fork, so this process stays small.
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--generate", work, str(args.records), str(args.seed)], check=True
    )
    generated = time.perf_counter() - start
    with open(os.path.join(work, "truth.json")) as f:
        truth = json.load(f)
    train, eval_ = truth["train"], truth["eval"]
    with open(eval_, "rb") as f:
        n_eval = sum(1 for _ in f)
    planted = {k: len(truth[k]) for k in KINDS}
    near = [s for _, _, s in truth["near"] + truth["near_leaks"]]
    size = (os.path.getsize(train) + os.path.getsize(eval_)) / 1e6
    print(
        f"records: {args.records:,} (train {args.records - n_eval:,}, eval {n_eval:,}; {size:,.0f} MB), "
        f"generated in {generated:.0f} s"
    )
    print(
        "planted: "
        + ", ".join(f"{planted[k]:,} {v}" for k, v in KINDS.items())
        + f"; near-duplicate Jaccard {min(near):.3f}-{max(near):.3f}, mean {sum(near) / len(near):.3f}"
    )
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of each subprocess; the floor inherited from this script at fork is {floor:.0f} MiB")
    print(
        f"\n{'':<56} {'wall s':>8} {'records/s':>11} {'RSS MiB':>9}  "
        + "  ".join(f"{v:>11}" for v in KINDS.values())
        + f"  {'other pairs':>11}"
    )

    walls = {}
    for label, extra in (
        ("curate lint (all rules)", []),
        (f"curate lint --select {SIMILARITY_RULES}", ["--select", SIMILARITY_RULES]),
    ):
        report = os.path.join(work, f"report{len(walls)}.json")
        cmd = curate_command() + ["lint", train, eval_, "--no-progress", "--output-format", "json"] + extra
        wall, rss, status = measure(cmd, report)
        if status not in (0, 1):
            sys.exit(f"{' '.join(cmd)} failed with exit status {status}")
        found, other, by_code = curate_found(report, truth)
        walls[label] = wall
        print(row(label, wall, args.records, rss, found, planted, other))
        if not extra:
            codes = by_code
    if args.skip_baseline:
        print("datasketch script: skipped (--skip-baseline)")
    else:
        limit = args.baseline_sample
        n_train = args.records - n_eval
        limits = (min(limit, n_train), max(1, min(limit, n_train) * n_eval // n_train)) if limit else (None, None)
        sample = args.records if limit is None else sum(limits)
        baseline_walls = {}
        for variant, label in (
            ("plain", "datasketch, update per shingle"),
            ("tuned", "datasketch, shared perms + update_batch"),
        ):
            pairs = os.path.join(work, f"baseline-{variant}.json")
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--run-baseline",
                train,
                eval_,
                pairs,
                str(limits[0] or 0),
                str(limits[1] or 0),
                variant,
            ]
            wall, rss, status = measure(cmd, os.devnull)
            if status != 0:
                sys.exit(f"the datasketch script failed with exit status {status}")
            found, inside, other = baseline_found(pairs, truth, limits)
            print(row(label + (f" [sample {sample:,}]" if limit else ""), wall, sample, rss, found, inside, other))
            baseline_walls[label] = wall * args.records / sample
            if limit:
                print(
                    f"{'  extrapolated to all records':<56} {baseline_walls[label]:8.1f}"
                    f" {args.records / baseline_walls[label]:11,.0f} {'n/a':>9}  (linear in records)"
                )
        print()
        note = " (datasketch extrapolated)" if limit else ""
        for label, wall in baseline_walls.items():
            for curate_label, curate_wall in walls.items():
                print(f"{curate_label} is {wall / curate_wall:.1f}x as fast as {label}{note}")
    print("curate findings by code (all rules): " + ", ".join(f"{c}: {n:,}" for c, n in sorted(codes.items())))


if __name__ == "__main__":
    main()
