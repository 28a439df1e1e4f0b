"""Precision and recall of every rule on small samples of public datasets, from hand labels.

    python bench/realdata/prepare.py      # once: writes the samples to bench/realdata/data/
    python bench/realdata/evaluate.py [--data DIR] [--markdown] [--unlabeled]

Each sample is linted on its own with every rule but Q001 (a sample's size says nothing about its
dataset). Per rule, up to `SAMPLED` findings per sample (evenly spaced, so the choice is fixed) are
looked up in labels.jsonl: `true` (a real defect), `debatable` or `false`. Precision counts
debatable findings as not true. Recall uses the defect labels (`defect` entries): the share of the
records labelled with a defect class that the class's rule flags. `--unlabeled` lists the sampled
findings that have no label yet, to label them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict

from curate.config import Config
from curate.engine import lint_paths
from curate.registry import load_rules

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLED = 20
IGNORED = ["Q001"]
# defect class -> the rule that should flag it
DEFECT_RULE = {
    "placeholder": "Q007",
    "empty": "F009",
    "runaway": "Q008",
    "missing-context": "Q009",
    "non-text": "Q010",
    "arithmetic": "C004",
    "language": "Q011",
    "template": "C003",
}


def load_labels(path: str) -> tuple[dict, list]:
    findings, defects = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            if "defect" in entry:
                defects.append(entry)
            else:
                findings[(entry["sample"], entry["line"], entry["code"])] = entry["label"]
    return findings, defects


def lint_samples(data: str) -> tuple[dict, dict]:
    """(diagnostics by sample, record count by sample)."""
    out, counts = {}, {}
    for name in sorted(os.listdir(data)):
        if not name.endswith(".jsonl") or name.endswith("_diff.jsonl"):
            continue
        result = lint_paths([os.path.join(data, name)], Config(ignore=IGNORED))
        sample = name[: -len(".jsonl")]
        out[sample] = result.diagnostics
        with open(os.path.join(data, name), encoding="utf-8") as f:
            counts[sample] = sum(1 for line in f if line.strip())
    return out, counts


def sampled(diags: list) -> list:
    """Up to SAMPLED findings, evenly spaced over the list."""
    if len(diags) <= SAMPLED:
        return diags
    step = len(diags) / SAMPLED
    return [diags[int(i * step)] for i in range(SAMPLED)]


def evaluate(data: str, labels_path: str, show_unlabeled: bool):
    labels, defects = load_labels(labels_path)
    by_sample, counts = lint_samples(data)
    rows: dict[str, Counter] = defaultdict(Counter)
    unlabeled = []
    flagged = defaultdict(set)  # (sample, line) -> codes
    error_lines = defaultdict(set)
    for sample, diags in by_sample.items():
        per_rule = defaultdict(list)
        for d in diags:
            per_rule[d.code].append(d)
            flagged[(sample, d.line)].add(d.code)
            if d.severity == "error":
                error_lines[sample].add(d.line)
        for code, found in per_rule.items():
            rows[code]["findings"] += len(found)
            for d in sampled(found):
                label = labels.get((sample, d.line, code))
                if label is None:
                    unlabeled.append(d)
                    continue
                rows[code]["sampled"] += 1
                rows[code][label] += 1
    defects = [e for e in defects if e["sample"] in counts]
    for entry in defects:
        code = DEFECT_RULE[entry["defect"]]
        rows[code]["defects"] += 1
        rows[code]["caught"] += code in flagged.get((entry["sample"], entry["line"]), ())
    defective = {(e["sample"], e["line"]) for e in defects}
    defective |= {(s, line) for (s, line, _), label in labels.items() if label != "false"}
    records = sum(counts.values())
    clean = records - len({k for k in defective if k[0] in counts})
    clean_errors = sum(1 for s, lines in error_lines.items() for line in lines if (s, line) not in defective)
    diff = os.path.join(data, "alpaca_cleaned_diff.jsonl")
    if os.path.exists(diff):  # records AlpacaDataCleaned changed or removed: did any rule flag them?
        with open(diff, encoding="utf-8") as f:
            changed = [json.loads(line) for line in f if line.strip()]
        caught = sum(1 for e in changed if flagged.get(("alpaca", e["line"])))
        rows["(cleaned diff)"].update(defects=len(changed), caught=caught, findings=len(by_sample.get("alpaca", ())))
    if show_unlabeled:
        for d in unlabeled:
            print(
                json.dumps(
                    {
                        "sample": os.path.basename(d.path)[:-6],
                        "line": d.line,
                        "code": d.code,
                        "message": d.message[:160],
                    },
                    ensure_ascii=False,
                )
            )
    return rows, counts, clean, clean_errors, len(unlabeled)


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.0f}%" if den else "-"


def table(rows: dict, markdown: bool) -> str:
    rules = load_rules()
    head = ["rule", "default", "findings", "sampled", "true", "debatable", "false", "precision", "recall"]
    lines = []
    for code in sorted(rows):
        r = rows[code]
        recall = f"{_pct(r['caught'], r['defects'])} ({r['caught']}/{r['defects']})" if r["defects"] else "-"
        default = rules[code].severity if code in rules else ("any rule" if code.startswith("(") else "(no rule)")
        lines.append(
            [
                code,
                default,
                str(r["findings"]),
                str(r["sampled"]),
                str(r["true"]),
                str(r["debatable"]),
                str(r["false"]),
                _pct(r["true"], r["sampled"]),
                recall,
            ]
        )
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(row) + " |" for row in lines]
        return "\n".join(out)
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(row, widths)) for row in [head, *lines])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--labels", default=os.path.join(HERE, "labels.jsonl"))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--unlabeled", action="store_true")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"error: no samples in {args.data}: run bench/realdata/prepare.py first", file=sys.stderr)
        return 2
    rows, counts, clean, clean_errors, missing = evaluate(args.data, args.labels, args.unlabeled)
    if args.unlabeled:
        return 0
    print(f"samples: {', '.join(f'{k} {v}' for k, v in counts.items())} ({sum(counts.values())} records)")
    print(table(rows, args.markdown))
    print(
        f"\nclean records flagged at error level: {clean_errors} of {clean} ({_pct(clean_errors, clean)})"
        + (f"; {missing} sampled findings have no label" if missing else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
