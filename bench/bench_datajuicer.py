"""Data-Juicer's Ray MinHash deduplicator against curate's near-duplicate findings, on the same files.

    python bench/bench_datajuicer.py [--records 100000] [--dj-python /work/dj-venv/bin/python]
                                     [--cpus 2] [--gpteacher] [--workdir DIR] [FILE.jsonl ...]

Data-Juicer (``py-data-juicer``, with ``ray[data]``) lives in its own virtual
environment: ``python3 -m venv /work/dj-venv && /work/dj-venv/bin/pip install
py-data-juicer 'ray[data]' aiohttp``. This script runs under curate's
interpreter and starts Data-Juicer's in a subprocess.

Inputs: the train file of a generated set (``synth.write_planted``,
``--records`` in train + eval, planted exact and near duplicates; 0 skips
it), ``--gpteacher`` (all 7,673 records of GPTeacher's
``Toolformer/toolformer-dedupe-only-dataset.json``, read from the local git
copy that ``bench/realdata/prepare.py`` uses; bench/realdata/data/toolformer.jsonl
holds its first 1,000) and any FILE given (a train.jsonl that ``bench_ray.py
--workdir`` wrote, beside its truth.json, gets its planted recall too).

On each file:

- curate: ``curate lint FILE --select D001,D002 --output-format json`` (the
  records ``fix --unsafe`` removes: every record with a finding); its
  clusters are the connected components of the reported pairs;
- Data-Juicer: ``ray_bts_minhash_deduplicator`` (its class
  ``RayBTSMinhashDeduplicatorWithUid``, the same MinHash, banding and
  union-find, with the line number as uid), default settings (space tokens,
  5-grams, 256 permutations, Jaccard threshold 0.7), on a local Ray with
  ``--cpus`` CPUs, over each record's text as D002 compares it (the
  normalized, role-tagged non-system turns). Its union-find parents are read
  before the removal, so each removed record's cluster and kept record are
  known. Data-Juicer keeps the first record of each cluster and removes the rest.

For every removed record the script computes, exactly, the Jaccard of its
word 3-gram set (D002's shingles) with the record Data-Juicer kept for it,
and also with Data-Juicer's own shingles (space-separated 5-grams,
lowercased); "verified" means at or above 0.7. "best in cluster" counts a
removed record as verified when any member of its cluster is that similar.
For the generated set it also gives each tool's recall of the planted pairs
(both records in one cluster). Wall time is the whole command (Ray start-up
included for Data-Juicer; the Ray start alone is printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
DJ_THRESHOLD = 0.7
GPTEACHER = ("teknium1/GPTeacher", "Toolformer/toolformer-dedupe-only-dataset.json")


# --------------------------------------------------------------------------
# The Data-Juicer side (runs under Data-Juicer's interpreter)


def run_datajuicer(text_path: str, out_path: str, cpus: int) -> None:
    """Dedup ``text_path`` (``{"text", "__dj__uid"}`` lines) with Data-Juicer on a local Ray; write the result."""
    import ray
    from data_juicer.ops.deduplicator import ray_bts_minhash_deduplicator as bts

    class DumpingUnionFind(bts.BTSUnionFind):
        def dump(self):
            return {
                int(u): int(p)
                for u, p in self.parent.items()
                if u // bts.BATCH_SIZE % self.parallel_num == self.parallel_id
            }

    bts.BTSUnionFind = DumpingUnionFind  # get_remote_classes() builds the actors from this name

    class Dedup(bts.RayBTSMinhashDeduplicatorWithUid):
        parents: dict = {}

        def merge(self):  # Data-Juicer's merge, with the parents read before squeeze() drops them
            self.merge_op_batch([uf.edge_redistribution.remote() for uf in self.union_find_list])
            while any(self.merge_op_batch([uf.balanced_union_find.remote() for uf in self.union_find_list])):
                self.merge_op_batch([uf.communication.remote() for uf in self.union_find_list])
            for part in ray.get([uf.dump.remote() for uf in self.union_find_list]):
                self.parents.update(part)
            self.merge_op_batch([uf.squeeze.remote() for uf in self.union_find_list])

    start = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    op = Dedup()
    kept = op.run(ray.data.read_json(text_path)).count()
    done = time.perf_counter()
    with open(out_path, "w") as f:
        json.dump(
            {
                "ray_init_s": started - start,
                "dedup_s": done - started,
                "kept": kept,
                "parents": op.parents,
                "settings": {
                    "bands": op.num_bands,
                    "rows": op.num_rows_per_band,
                    "num_perm": op.num_permutation,
                    "window": op.window_size,
                    "tokenization": op.tokenization,
                },
            },
            f,
        )
    ray.shutdown()


# --------------------------------------------------------------------------
# Analysis (runs under curate's interpreter)


def near_texts(path: str) -> list[str]:
    from stage_costs import near_text

    with open(path, "rb") as f:
        return [near_text(json.loads(line)) for line in f]


def roots_of(parents: dict[int, int]) -> dict[int, int]:
    """Each uid in ``parents`` -> its root (a uid with no parent)."""
    roots = {}
    for uid in parents:
        chain, x = [], uid
        while x in parents and x not in roots:
            chain.append(x)
            x = parents[x]
        root = roots.get(x, x)
        for y in chain:
            roots[y] = root
    return roots


def clusters_of(n: int, pairs) -> list[list[int]]:
    """Connected components (size >= 2) of ``pairs`` over records 0..n-1."""
    import numpy as np

    from curate.similarity.search import connected_components

    pairs = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)
    labels = connected_components(n, pairs)
    groups = defaultdict(list)
    for i in np.unique(pairs):
        groups[labels[i]].append(int(i))
    return [g for g in groups.values() if len(g) > 1]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def dj_shingles(text: str, window: int) -> set:
    tokens = text.lower().split()
    return {" ".join(tokens[i : i + window]) for i in range(len(tokens) - window + 1)}


def verified(removed: list[int], partner: dict, clusters: list[list[int]], sets: list[set], dj_sets: list[set]):
    """(verified against the kept partner with D002's shingles, with DJ's shingles, best in cluster)."""
    member_of = {i: c for c in clusters for i in c}
    to_kept = sum(jaccard(sets[i], sets[partner[i]]) >= DJ_THRESHOLD for i in removed)
    dj_kept = sum(jaccard(dj_sets[i], dj_sets[partner[i]]) >= DJ_THRESHOLD for i in removed)
    best = sum(any(j != i and jaccard(sets[i], sets[j]) >= DJ_THRESHOLD for j in member_of[i]) for i in removed)
    return to_kept, dj_kept, best


def curate_side(path: str, work: str) -> dict:
    from proctree import run_tree

    out = os.path.join(work, "curate.json")
    cmd = [
        sys.executable,
        "-m",
        "curate",
        "lint",
        path,
        "--select",
        "D001,D002",
        "--output-format",
        "json",
        "--no-progress",
        "--exit-zero",
        "--jobs",
        "1",
        "-o",
        out,
    ]
    run = run_tree(cmd, os.devnull)
    if run.status:
        sys.exit(f"{' '.join(cmd)} failed ({run.status})")
    with open(out) as f:
        report = json.load(f)
    partner = {}
    for d in report["diagnostics"]:
        partner.setdefault(d["line"] - 1, d["related"][0]["line"] - 1)  # first related: the earliest match
    pairs = [(d["line"] - 1, r["line"] - 1) for d in report["diagnostics"] for r in d["related"]]
    return {
        "wall": run.wall_s,
        "cpu": run.cpu_s,
        "rss": run.of("driver")[0].hwm_mib,
        "removed": sorted(partner),
        "partner": partner,
        "pairs": pairs,
    }


def dj_side(args, texts: list[str], work: str) -> dict:
    from proctree import run_tree

    text_path, out = os.path.join(work, "dj-input.jsonl"), os.path.join(work, "dj.json")
    with open(text_path, "w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"text": text, "__dj__uid": i}) + "\n")
    cmd = [args.dj_python, os.path.abspath(__file__), "--run-dj", text_path, out, str(args.cpus)]
    run = run_tree(cmd, os.path.join(work, "dj-stdout.txt"), stderr_path=os.path.join(work, "dj-stderr.txt"))
    if run.status:
        sys.exit(f"Data-Juicer failed ({run.status}): {' '.join(cmd)}; see {work}/dj-stderr.txt")
    with open(out) as f:
        got = json.load(f)
    roots = roots_of({int(k): v for k, v in got["parents"].items()})
    workers = run.of("ray worker")
    got.update(
        wall=run.wall_s,
        cpu=run.cpu_s,
        rss=run.of("driver")[0].hwm_mib,
        worker_rss=max((p.hwm_mib for p in workers), default=0.0),
        removed=sorted(roots),
        partner=roots,
        pairs=list(roots.items()),
    )
    return got


def planted_recall(truth: dict, path: str, clusters: list[list[int]]) -> float:
    member_of = {i: k for k, c in enumerate(clusters) for i in c}
    planted = [(src[1] - 1, copy[1] - 1) for kind in ("dups", "near") for src, copy, _ in truth[kind] if src[0] == path]
    hit = sum(a in member_of and member_of.get(b) == member_of[a] for a, b in planted)
    return hit / len(planted) if planted else float("nan")


def compare(args, label: str, path: str, work: str, truth: dict | None = None) -> list[str]:
    texts = near_texts(path)
    n = len(texts)
    sides = {"curate (D001+D002)": curate_side(path, work), "Data-Juicer ray_bts_minhash": dj_side(args, texts, work)}
    from curate.similarity import shingles

    sets = [shingles(t) for t in texts]
    dj_window = sides["Data-Juicer ray_bts_minhash"]["settings"]["window"]
    dj_sets = [dj_shingles(t, dj_window) for t in texts]
    lines = [
        f"\n### {label}: {n:,} records ({path})",
        f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"{'':<30} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8} {'removed':>14} {'largest':>8} "
        f"{'verified 3-gram':>16} {'verified DJ 5-gram':>19} {'best in cluster':>16}"
        + ("  planted recall" if truth else ""),
    ]
    for name, side in sides.items():
        removed, partner = side["removed"], side["partner"]
        clusters = clusters_of(n, side["pairs"])
        to_kept, dj_kept, best = verified(removed, partner, clusters, sets, dj_sets)
        r = max(len(removed), 1)
        rss = f"{side['rss']:,.0f}" + (f"/{side['worker_rss']:,.0f}" if "worker_rss" in side else "")
        lines.append(
            f"{name:<30} {side['wall']:7.1f} {side['cpu']:7.1f} {rss:>8} "
            f"{len(removed):>6,} ({len(removed) / n:5.1%}) {max(map(len, clusters), default=0):>8,} "
            f"{to_kept / r:>16.1%} {dj_kept / r:>19.1%} {best / r:>16.1%}"
            + (f"  {planted_recall(truth, path, clusters):.3f}" if truth else "")
        )
    dj = sides["Data-Juicer ray_bts_minhash"]
    lines.append(
        f"Data-Juicer: Ray start {dj['ray_init_s']:.1f} s, dedup {dj['dedup_s']:.1f} s on {args.cpus} CPUs; "
        f"{dj['settings']}; RSS is driver/largest Ray worker"
    )
    print("\n".join(lines), flush=True)
    return lines


def planted_truth(path: str) -> dict | None:
    """The truth.json beside a train file that bench_ray.py --workdir wrote, if it names that file."""
    truth_path = os.path.join(os.path.dirname(path), "truth.json")
    if not os.path.exists(truth_path):
        return None
    with open(truth_path) as f:
        truth = json.load(f)
    return truth if truth.get("train") == path else None


def gpteacher_file(work: str) -> str:
    sys.path.insert(0, os.path.join(HERE, "realdata"))
    from prepare import _records, convert, git_show, write_jsonl

    mirrors = os.environ.get("CURATE_MIRRORS", "/work/.mirror")
    records = [convert("gpteacher", r) for r in _records(git_show(mirrors, *GPTEACHER))]
    path = os.path.join(work, "toolformer-full.jsonl")
    write_jsonl(path, records)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--records", type=int, default=100_000, help="generated set size (0: none)")
    parser.add_argument("--gpteacher", action="store_true", help="also all of GPTeacher's Toolformer set")
    parser.add_argument("--dj-python", default="/work/dj-venv/bin/python")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of Data-Juicer's local Ray")
    parser.add_argument("--workdir")
    parser.add_argument("--markdown", help="also write the figures to this file")
    parser.add_argument("--run-dj", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_dj:
        run_datajuicer(args.run_dj[0], args.run_dj[1], int(args.run_dj[2]))
        return
    sys.path.insert(0, HERE)
    if not os.path.exists(args.dj_python):
        sys.exit(f"error: no Data-Juicer interpreter at {args.dj_python} (see this script's docstring)")
    work = args.workdir or tempfile.mkdtemp(prefix="bench-dj-")
    lines = []
    if args.records:
        from synth import write_planted

        folder = os.path.join(work, f"synth-{args.records}")
        os.makedirs(folder, exist_ok=True)
        truth = write_planted(folder, args.records)
        lines += compare(args, "generated train set", truth["train"], folder, truth)
    if args.gpteacher:
        folder = os.path.join(work, "gpteacher")
        os.makedirs(folder, exist_ok=True)
        lines += compare(args, "GPTeacher Toolformer (all)", gpteacher_file(folder), folder)
    for k, path in enumerate(args.files):
        folder = os.path.join(work, f"file{k}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.abspath(path)
        lines += compare(args, os.path.basename(path), path, folder, planted_truth(path))
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write("```\n" + "\n".join(lines).strip() + "\n```\n")
    if not args.workdir:
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
