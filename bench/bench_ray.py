"""`curate lint` on the local engine and on Ray, on the same generated files, in one run.

    python bench/bench_ray.py [--records 100000 [1000000 ...]] [--engines local1,local2,ray1,ray2]
                              [--ray-address ADDR] [--python PY] [--stages] [--workdir DIR] [--seed 0]

For each size in ``--records`` it writes ``train.jsonl`` and ``eval.jsonl``
(10% eval) with planted exact and near duplicates and eval leaks
(``synth.write_planted``) under a temporary folder in /tmp (``--workdir`` keeps
them), then runs, each as its own process, every rule on both files with
JSON output:

- ``local1`` / ``local2``: ``curate lint --jobs 1`` / ``--jobs 2``;
- ``ray1`` / ``ray2``: ``curate lint --engine ray --jobs 1`` / ``--jobs 2``
  (a local Ray with that many CPUs, started by the command, so its start-up
  is in the time), or the cluster at ``--ray-address``.

For each run: wall, records/s, CPU of the whole process tree, peak RSS of
the driver (the ``curate`` process), of each Ray worker (``ray::`` processes;
largest, and count) and of Ray's daemons, and the tree's summed RSS at its
peak (sampled from /proc, see ``proctree.py``); recall on the planted pairs;
and whether the JSON report is identical to ``local1``'s (the first engine's;
with ``--workdir``, files and reports of an earlier run are reused, so
``--engines ray1,ray2`` compares with the earlier local1 report). ``--stages`` adds
a per-record cost breakdown of the similarity stages, timed in this process
on the train file (``stage_costs``), the input of the scaling estimate.
``--python`` runs curate with another interpreter (one that has Ray).
The load average is printed before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from proctree import TreeRun, run_tree  # noqa: E402

ENGINES = {
    "local1": ("local --jobs 1", ["--jobs", "1"]),
    "local2": ("local --jobs 2", ["--jobs", "2"]),
    "ray1": ("ray, 1 worker (--jobs 1)", ["--engine", "ray", "--jobs", "1"]),
    "ray2": ("ray, 2 workers (--jobs 2)", ["--engine", "ray", "--jobs", "2"]),
}
KINDS = ("dups", "near", "exact_leaks", "near_leaks")


def generate(python: str, work: str, records: int, seed: int) -> dict:
    """Write the planted files in a subprocess (bench_similarity's generator), unless ``work`` holds them
    for this size and seed already; return the truth."""
    here = os.path.dirname(os.path.abspath(__file__))
    made = os.path.join(work, f"made-{records}-{seed}")
    if os.path.exists(made):
        with open(os.path.join(work, "truth.json")) as f:
            return json.load(f)
    subprocess.run(
        [python, os.path.join(here, "bench_similarity.py"), "--generate", work, str(records), str(seed)], check=True
    )
    open(made, "w").close()
    with open(os.path.join(work, "truth.json")) as f:
        return json.load(f)


def lint(cmd: list[str], work: str, key: str) -> TreeRun:
    """One run; a local Ray that failed to start in its fixed 30 s (an overloaded machine) is tried again."""
    err = os.path.join(work, f"stderr-{key}.txt")
    for _ in range(3):
        run = run_tree(cmd, os.path.join(work, f"stdout-{key}.txt"), extra_ray="--ray-address" in cmd, stderr_path=err)
        with open(err, errors="replace") as f:
            if run.status == 0 or "timed out during startup" not in f.read():
                break
        print(f"{key}: Ray did not start in time, trying again", flush=True)
    return run


def ray_available(python: str) -> str | None:
    """None when ``python`` runs curate with ``--engine ray``, else why not."""
    helped = subprocess.run([python, "-m", "curate", "lint", "--help"], capture_output=True, text=True)
    if "--engine" not in helped.stdout:
        return "this curate has no --engine option"
    imported = subprocess.run([python, "-c", "import ray"], capture_output=True, text=True)
    if imported.returncode:
        return "ray is not importable by " + python
    return None


def recall(report: dict, truth: dict) -> dict:
    """Planted pairs found per kind, as bench_similarity counts them."""
    related: dict = {}
    for d in report["diagnostics"]:
        if d["code"] in ("D001", "D002", "L001", "L002"):
            key = ("dup" if d["code"][0] == "D" else "leak", d["path"], d["line"])
            related.setdefault(key, set()).update((r["path"], r["line"]) for r in d["related"])
    found = {}
    for kind in KINDS:
        group = "leak" if kind.endswith("leaks") else "dup"
        found[kind] = sum(tuple(src) in related.get((group, *copy), ()) for src, copy, _ in truth[kind])
    return found


def difference(report: dict, reference: dict) -> str:
    """'identical' or how two JSON reports differ."""
    if report == reference:
        return "identical"
    mine = {json.dumps(d, sort_keys=True) for d in report["diagnostics"]}
    theirs = {json.dumps(d, sort_keys=True) for d in reference["diagnostics"]}
    if mine == theirs:
        return "same findings, different order" if report["summary"] == reference["summary"] else "summary differs"
    return f"DIFFERS: {len(mine - theirs)} findings only here, {len(theirs - mine)} only in local1"


def worker_figures(run: TreeRun) -> str:
    workers = [p for p in run.of("ray worker") if p.cpu_s > 0.05] or run.of("ray worker") or run.of("worker")
    if not workers:
        return f"{'-':>9} {'-':>9} {'-':>3}"
    top = max(workers, key=lambda p: p.hwm_mib)
    return f"{top.hwm_mib:9,.0f} {max(p.anon_mib for p in workers):9,.0f} {len(workers):3}"


def one_size(args, records: int, work: str) -> list[str]:
    lines = []
    start = time.perf_counter()
    truth = generate(args.python, work, records, args.seed)
    size = sum(os.path.getsize(truth[k]) for k in ("train", "eval")) / 1e6
    planted = {k: len(truth[k]) for k in KINDS}
    lines.append(f"\n## {records:,} records ({size:,.0f} MB; generated in {time.perf_counter() - start:.0f} s)")
    lines.append("planted: " + ", ".join(f"{planted[k]:,} {k}" for k in KINDS))
    lines.append(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        f"{'engine':<28} {'wall s':>7} {'rec/s':>8} {'CPU s':>7} {'drv CPU':>7} {'driver':>8} {'worker':>9} {'w.anon':>9}"
        f" {'n':>3} {'ray sys':>8} {'tree':>8}  recall d/n/xl/nl   JSON vs local1"
    )
    lines.append(
        "CPU s: the whole process tree; drv CPU: the curate process alone."
        " RSS in MiB: driver = peak of the curate process; worker = peak of the largest worker process"
        " (w.anon: its anonymous RSS, without shared object-store pages), n = workers that ran;"
        " ray sys = Ray daemons summed; tree = the whole tree's RSS at its peak"
    )
    lines.append(header)
    print("\n".join(lines), flush=True)
    reference = None
    earlier = os.path.join(work, "report-local1.json")
    if "local1" not in args.engines and os.path.exists(earlier):  # a --workdir run of local1 before
        with open(earlier) as f:
            reference = json.load(f)
    for key in args.engines:
        label, extra = ENGINES[key]
        if key.startswith("ray"):
            missing = ray_available(args.python)
            if missing:
                lines.append(f"{label:<28} skipped: {missing}")
                print(lines[-1], flush=True)
                continue
            if args.ray_address:
                extra = extra + ["--ray-address", args.ray_address]
        out = os.path.join(work, f"report-{key}.json")
        cmd = [
            args.python,
            "-m",
            "curate",
            "lint",
            truth["train"],
            truth["eval"],
            "--output-format",
            "json",
            "--no-progress",
            "--exit-zero",
            "-o",
            out,
        ] + extra
        run = lint(cmd, work, key)
        if run.status != 0:
            lines.append(
                f"{label:<28} failed with exit status {run.status}: {' '.join(cmd)} (see {work}/stderr-{key}.txt)"
            )
            print(lines[-1], flush=True)
            continue
        with open(out) as f:
            report = json.load(f)
        reference = reference or report
        found = recall(report, truth)
        recalls = "/".join(f"{found[k] / planted[k]:.2f}" if planted[k] else "-" for k in KINDS)
        driver, drv_cpu = run.of("driver")[0].hwm_mib, run.of("driver")[0].cpu_s
        ray_sys = sum(p.hwm_mib for p in run.of("ray system"))
        lines.append(
            f"{label:<28} {run.wall_s:7.1f} {records / run.wall_s:8,.0f} {run.cpu_s:7.1f} {drv_cpu:7.1f} {driver:8,.0f} "
            f"{worker_figures(run)} {ray_sys:8,.0f} {run.peak_total_mib:8,.0f}  {recalls:<18} "
            f"{difference(report, reference)}"
        )
        print(lines[-1], flush=True)
    lines.append(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(lines[-1], flush=True)
    if args.stages:
        done = subprocess.run(
            [args.python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "stage_costs.py"), truth["train"]],
            capture_output=True,
            text=True,
            check=True,
        )
        lines.append(done.stdout.rstrip())
        print(lines[-1], flush=True)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000], help="sizes (train + eval)")
    parser.add_argument(
        "--engines",
        default="local1,local2,ray1,ray2",
        help=f"comma-separated, of {', '.join(ENGINES)}; the first is the JSON reference",
    )
    parser.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs curate")
    parser.add_argument("--stages", action="store_true", help="also time the similarity stages per record")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="keep the files and reports here (default: a temporary folder in /tmp)")
    parser.add_argument("--markdown", help="also write the figures to this file")
    args = parser.parse_args()
    args.engines = [e for e in args.engines.split(",") if e]
    unknown = [e for e in args.engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engine {unknown[0]!r}")
    print(f"curate: {args.python}; {os.cpu_count()} CPUs", flush=True)
    lines = []
    for records in args.records:
        work = os.path.join(args.workdir, str(records)) if args.workdir else tempfile.mkdtemp(prefix="bench-ray-")
        os.makedirs(work, exist_ok=True)
        try:
            lines += one_size(args, records, os.path.abspath(work))
        finally:
            if not args.workdir:
                shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write("```\n" + "\n".join(lines).strip() + "\n```\n")


if __name__ == "__main__":
    main()
