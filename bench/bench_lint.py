"""Record-rule throughput: `curate lint --select F,R,C,Q,S --ignore C001` against a plain json.loads pass.

    python bench/bench_lint.py [--records 100000] [--jobs 1]

Both run in this process on the same generated file; the ratio is what matters. The selection is every
record rule (F001-F012, R, C003, C004, Q002-Q005, Q007-Q011, S) and the per-file statistics rules that come
with their prefixes (F004, F007, C002, Q001, Q006); it leaves out the similarity rules (C001, D, L).
The json.loads pass reads the file as lint does (binary lines) and parses each line with the stdlib.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from synth import write  # noqa: E402

from curate.cli import GC_THRESHOLDS  # noqa: E402
from curate.config import Config  # noqa: E402
from curate.engine import lint_paths  # noqa: E402

SELECT = ["F", "R", "C", "Q", "S"]
IGNORE = ["C001"]


def json_pass(path: str) -> tuple[float, float]:
    """(wall, CPU) seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    with open(path, "rb") as f:
        for line in f:
            json.loads(line)
    return time.perf_counter() - start, time.process_time() - cpu


def lint_pass(path: str, jobs: int) -> tuple[float, float, int]:
    """(wall, CPU of this process, findings)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = lint_paths([path], Config(select=SELECT, ignore=IGNORE), jobs=jobs)
    return time.perf_counter() - start, time.process_time() - cpu, len(result.diagnostics)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)  # as the curate command runs, for both passes
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.jsonl")
        write(path, args.records)
        size = os.path.getsize(path) / 1e6
        parse, parse_cpu = json_pass(path)
        lint, lint_cpu, findings = lint_pass(path, args.jobs)
    print(f"records: {args.records} ({size:.0f} MB), jobs: {args.jobs}")
    print(f"rules: {' '.join(Config(select=SELECT, ignore=IGNORE).selected())}")
    print(f"json.loads pass:  {parse:7.2f} s  {args.records / parse:10,.0f} records/s  (CPU {parse_cpu:.2f} s)")
    print(
        f"curate lint:      {lint:7.2f} s  {args.records / lint:10,.0f} records/s  (CPU {lint_cpu:.2f} s,"
        f" {findings} findings)"
    )
    print(
        f"ratio lint/parse: {lint / parse:7.1f}x wall"
        + (f", {lint_cpu / parse_cpu:.1f}x CPU" if args.jobs == 1 else " (CPU: workers not counted)")
    )


if __name__ == "__main__":
    main()
