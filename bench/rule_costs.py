"""Per-rule CPU cost of the record rules: microseconds per record, on generated conversations.

    python bench/rule_costs.py [--records 20000] [--input FILE ...] [--scan-engine python|hyperscan]

Each rule runs as the engine runs it: on the records of its stage where its trigger fires
(curate/scan.py); `(scan)` is the fused scan that decides it, `(parse)` the parse. `--input` measures
the records of dataset files (JSON lines, any format curate reads) instead of generated ones.
`--scan-engine` picks how the scan finds its needles (curate/multimatch.py): as lint does (`auto`,
Hyperscan after the first 5,000 texts), by substring tests, or by Hyperscan from the first text.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from synth import write  # noqa: E402

from curate.config import Config  # noqa: E402
from curate.engine import RuleContext, _stage  # noqa: E402
from curate.parse import parse  # noqa: E402
from curate.reader import FileInfo, read_file  # noqa: E402
from curate.registry import load_rules  # noqa: E402
from curate.scan import Scanner  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--input", nargs="+", metavar="FILE", help="dataset files to measure instead")
    parser.add_argument("--scan-engine", choices=["auto", "python", "hyperscan"], default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = args.input or [os.path.join(tmp, "train.jsonl")]
        if not args.input:
            write(paths[0], args.records)
        records = [rec for path in paths for rec in read_file(FileInfo(path, "train", ""), None, 0, 10**9)]
        start = time.process_time()
        for rec in records:
            parse(rec)
        costs = {"(parse)": time.process_time() - start}
    config = Config()
    rules = {code: rule for code, rule in load_rules().items() if rule.kind == "record"}
    scanner = Scanner(
        {code: rule.trigger for code, rule in rules.items() if rule.trigger is not None}, args.scan_engine
    )
    start = time.process_time()
    fired = [scanner.fired(rec) if len(_stage(rec)) == 3 else None for rec in records]
    costs["(scan)"] = time.process_time() - start
    for code, rule in sorted(rules.items()):
        ctx = RuleContext(config.options_for(code))
        start = time.process_time()
        for rec, hits in zip(records, fired):
            if rule.requires in _stage(rec) and (rule.trigger is None or hits is None or code in hits):
                for _ in rule.impl(rec, ctx) or ():
                    pass
        costs[code] = time.process_time() - start
    total = sum(costs.values())
    for code, cost in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"{code:8} {cost / len(records) * 1e6:8.1f} us/record  {cost / total:6.1%}")
    print(f"{'total':8} {total / len(records) * 1e6:8.1f} us/record")


if __name__ == "__main__":
    main()
