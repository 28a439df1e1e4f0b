"""Start-up cost: `curate lint` on a 5-record file, interpreter start included, against `python -c pass`.

    python bench/bench_startup.py [--runs 21] [--records 5] [--importtime] [--before OTHER/bin/curate]

Both commands run as fresh processes, interleaved (so a change in machine load hits both alike), with
the installed `curate` console script beside this interpreter. Each run is timed from spawn to exit,
wall-clock and CPU (user + system of the child: steadier than wall on a loaded machine); the medians
are reported. A first, untimed run writes the bytecode cache (the children run without
PYTHONDONTWRITEBYTECODE, as an installed package would). `--importtime` also lists the slowest
imports of one lint run (`python -X importtime -m curate lint ...`, cumulative milliseconds).
`--before` times another install's `curate` script in the same interleaved loop (e.g. a checkout of
the code before a change, with its own virtual environment), for before/after medians from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from synth import write  # noqa: E402


def curate_script() -> str:
    """The console script installed beside this interpreter (what users run)."""
    name = "curate.exe" if os.name == "nt" else "curate"
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        sys.exit(f"error: no {name} beside {sys.executable}: install the package (pip install -e .)")
    return path


# Children write and use the bytecode cache, as an installed package does, whatever this shell says.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: str) -> tuple[float, float]:
    """(wall, CPU) seconds from spawn to exit of one run, output discarded; CPU is user + system of the child."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0  # reaped by wait4
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def slowest_imports(command: list[str], cwd: str, top: int) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the `top` slowest imports of one run."""
    command = [sys.executable, "-X", "importtime", *command]
    run = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    rows = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--records", type=int, default=5)
    parser.add_argument("--importtime", action="store_true", help="Also list the slowest imports of one run.")
    parser.add_argument("--before", metavar="CURATE", help="Another install's curate script, timed in the same loop.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "train.jsonl"), args.records)
        commands = {"pass": [sys.executable, "-c", "pass"], "lint": [curate_script(), "lint", "train.jsonl"]}
        labels = {"pass": "python -c pass", "lint": "curate lint train.jsonl"}
        if args.before:
            commands["before"] = [os.path.abspath(args.before), "lint", "train.jsonl"]
            labels["before"] = "--before lint"
        for command in commands.values():
            timed(command, tmp)  # warm the file cache and write the bytecode
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                runs[name].append(timed(command, tmp))
        print(f"runs: {args.runs}, records: {args.records}, python {sys.version.split()[0]}, median (min) seconds")
        medians = {}
        for name, label in labels.items():
            walls, cpus = zip(*runs[name])
            medians[name] = statistics.median(walls)
            cpu = statistics.median(cpus)
            print(f"{label:24}  wall {medians[name]:.3f} ({min(walls):.3f})  CPU {cpu:.3f} ({min(cpus):.3f})")
        print(f"curate's own share:       wall {medians['lint'] - medians['pass']:.3f}")
        print(f"load average:             {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.importtime:
            print("slowest imports (cumulative ms):")
            for micros, name in slowest_imports(["-m", "curate", "lint", "train.jsonl"], tmp, 25):
                print(f"  {micros / 1000:8.1f}  {name}")


if __name__ == "__main__":
    main()
