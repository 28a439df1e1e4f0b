"""Scale: `curate lint` (every rule) and `curate split` on many records: wall, CPU and peak memory.

    python bench/bench_scale.py [--records 1000000] [--seed 0] [--workdir DIR] [--jobs N]
                                [--only lint|split]

Generates (or reuses, in ``--workdir``) ``train.jsonl`` and ``eval.jsonl`` with planted
duplicates and leaks (``synth.write_planted``, ``--records`` in all, 10% eval) and
``all.jsonl``, their concatenation. Then, each in its own subprocess:

- ``curate lint train.jsonl eval.jsonl --no-progress --output-format json`` (every rule,
  ``--jobs`` the usable cores unless given);
- ``curate split all.jsonl --ratios 0.9,0.1 -o DIR`` (``--jobs`` likewise).

For each: wall seconds, CPU seconds (user + system of the command and its worker
processes), the peak RSS of the largest process (``os.wait4``) and the peak of the
summed RSS of the whole process tree (sampled every 0.1 s from /proc), and the load
average at start and end: the machine may be shared, so CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _tree_rss(pid: int) -> int:
    """Summed resident bytes of ``pid`` and its descendants."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            continue
        stack += _children(p)
    return total


def measure(cmd: list[str], stdout_path: str) -> dict:
    """Wall, CPU, peak RSS (largest process, and whole tree) and exit status of one command."""
    load = os.getloadavg()[0]
    peak = [0]
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out)
        done = threading.Event()

        def sample():
            while not done.wait(0.1):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
        "tree": peak[0] / 2**20,
        "status": os.waitstatus_to_exitcode(status),
        "load": (load, os.getloadavg()[0]),
    }


def curate_command() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "curate")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "curate"]


def generate(work: str, records: int, seed: int) -> tuple[str, str, str]:
    train, eval_, joined = (os.path.join(work, name) for name in ("train.jsonl", "eval.jsonl", "all.jsonl"))
    if not all(os.path.exists(p) for p in (train, eval_, joined)):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, os.path.join(HERE, "bench_similarity.py"), "--generate", work, str(records), str(seed)],
            check=True,
        )
        with open(joined, "wb") as out:
            for part in (train, eval_):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 24)
        print(f"generated {records:,} records in {time.perf_counter() - start:.0f} s")
    return train, eval_, joined


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="keep (and reuse) the generated files here (default: a temporary folder)")
    parser.add_argument("--jobs", type=int, help="--jobs of both commands (default: theirs, the usable cores)")
    parser.add_argument("--only", choices=["lint", "split"])
    args = parser.parse_args()
    work = os.path.abspath(args.workdir or os.path.join("/tmp", f"bench-scale-{os.getpid()}"))
    os.makedirs(work, exist_ok=True)
    try:
        run(args, work)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def run(args, work: str) -> None:
    train, eval_, joined = generate(work, args.records, args.seed)
    size = os.path.getsize(joined) / 1e6
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    print(f"records: {args.records:,} ({size:,.0f} MB); cores: {os.cpu_count()}; jobs: {args.jobs or 'default'}")
    print(f"{'':<28} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>9} {'tree MiB':>9} {'load':>11}  exit")
    commands = {
        "lint (every rule)": curate_command()
        + ["lint", train, eval_, "--no-progress", "--output-format", "json", *jobs],
        "split --ratios 0.9,0.1": curate_command()
        + ["split", joined, "--ratios", "0.9,0.1", "-o", os.path.join(work, "split-out"), *jobs],
    }
    for label, cmd in commands.items():
        if args.only and not label.startswith(args.only):
            continue
        m = measure(cmd, os.path.join(work, f"{label.split()[0]}.out"))
        print(
            f"{label:<28} {m['wall']:8.1f} {m['cpu']:8.1f} {m['rss']:9,.0f} {m['tree']:9,.0f} "
            f"{m['load'][0]:5.1f}-{m['load'][1]:<5.1f}  {m['status']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
