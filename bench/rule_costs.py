"""Per-rule cost of the record rules: microseconds per record, on generated conversations.

    python bench/rule_costs.py [--records 20000]
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.jsonl")
        write(path, args.records)
        records = list(read_file(FileInfo(path, "train", ""), None, 0, 10**9))
        start = time.perf_counter()
        for rec in records:
            parse(rec)
        costs = {"(parse)": time.perf_counter() - start}
    config = Config()
    for code, rule in sorted(load_rules().items()):
        if rule.kind != "record":
            continue
        ctx = RuleContext(config.options_for(code))
        start = time.perf_counter()
        for rec in records:
            if rule.requires in _stage(rec):
                for _ in rule.impl(rec, ctx) or ():
                    pass
        costs[code] = time.perf_counter() - start
    total = sum(costs.values())
    for code, cost in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"{code:8} {cost / len(records) * 1e6:8.1f} us/record  {cost / total:6.1%}")
    print(f"{'total':8} {total / len(records) * 1e6:8.1f} us/record")


if __name__ == "__main__":
    main()
