"""Build the real-data samples the evaluation reads, from local git copies of public repositories.

    python bench/realdata/prepare.py [--mirrors DIR] [--out DIR]
        [--alpaca alpaca_data.json --alpaca-cleaned alpaca_data_cleaned.json]

Each source is read with `git --git-dir=DIR/<owner>+<name>/repo show HEAD:<path>` (a bare clone of
the repository works: clone it to that place). The samples are written to `--out` (default
bench/realdata/data/, which git ignores): the data stays under its owners' licences and is not
part of this repository. Every sample is a deterministic slice, so the labels in labels.jsonl
(keyed by sample, line and rule) stay valid.

With `--alpaca` and `--alpaca-cleaned` (the 21 MB files of tatsu-lab/stanford_alpaca and
gururise/AlpacaDataCleaned), it also writes the first 2,000 original Alpaca records and, as recall
labels, which of them the cleaned version changed or removed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (repository, path, records, licence, converter)
SOURCES = {
    # raw generations of Alpaca's own self-instruct pipeline (generate_instruction.py), as forks committed them;
    # the second and third are held out: no rule was tuned on them
    "alpaca_regen": ("Doffery/stanford_alpaca", "regen.json", 1161, "CC BY-NC 4.0", "alpaca"),
    "alpaca_regen_d": ("IDoMathEveryDay/standford_alpaca_", "regen.json", 144, "CC BY-NC 4.0", "alpaca"),
    "holdout_regen_b": ("avniavdulla/stanford_alpaca", "regen.json", 128, "CC BY-NC 4.0", "alpaca"),
    "holdout_regen_c": ("minpeter/stanford_alpaca_regen", "regen.json", 73, "CC BY-NC 4.0", "alpaca"),
    "codealpaca": ("sahil280114/codealpaca", "data/code_alpaca_2k.json", 2017, "CC BY-NC 4.0", "alpaca"),
    "alpaca_seed": ("tatsu-lab/stanford_alpaca", "seed_tasks.jsonl", 175, "Apache-2.0", "seed"),
    "toolformer": ("teknium1/GPTeacher", "Toolformer/toolformer-dedupe-only-dataset.json", 1000, "MIT", "gpteacher"),
    "roleplay": (
        "teknium1/GPTeacher",
        "Roleplay/roleplay-simple-deduped-roleplay-instruct.json",
        300,
        "MIT",
        "gpteacher",
    ),
    "codegen": ("teknium1/GPTeacher", "Codegen/codegen-instruct.json", 300, "MIT", "gpteacher"),
    "sharegpt": ("lm-sys/FastChat", "data/dummy_conversation.json", 300, "Apache-2.0", "sharegpt"),
    "gsm8k": ("openai/grade-school-math", "grade_school_math/data/test.jsonl", 300, "MIT", "gsm8k"),
}


def git_show(mirrors: str, repo: str, path: str) -> str:
    git_dir = os.path.join(mirrors, repo.replace("/", "+"), "repo")
    if not os.path.isdir(git_dir):
        sys.exit(f"error: no git copy of {repo} at {git_dir}: clone it there (git clone --bare)")
    out = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"HEAD:{path}"], capture_output=True, check=False)
    if out.returncode:
        sys.exit(f"error: {repo}:{path}: {out.stderr.decode().strip()}")
    return out.stdout.decode("utf-8")


def _records(text: str) -> list:
    text = text.strip()
    return json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]


def convert(kind: str, rec: dict) -> dict:
    """A source record as curate reads it (alpaca fields, or sharegpt as is)."""
    if kind == "alpaca":
        return {"instruction": rec["instruction"], "input": rec.get("input", ""), "output": rec["output"]}
    if kind == "gpteacher":  # GPTeacher names the reply `response`
        return {"instruction": rec["instruction"], "input": rec.get("input", ""), "output": rec["response"]}
    if kind == "seed":
        first = rec["instances"][0]
        return {"instruction": rec["instruction"], "input": first["input"], "output": first["output"]}
    if kind == "gsm8k":
        return {"instruction": rec["question"], "input": "", "output": rec["answer"]}
    if kind == "sharegpt":
        return {"conversations": [{"from": t["from"], "value": t["value"]} for t in rec["conversations"]]}
    raise ValueError(kind)


def write_jsonl(path: str, records) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def alpaca_diff(original: str, cleaned: str, out: str, n: int = 2000) -> None:
    """The first `n` Alpaca records, and which of them AlpacaDataCleaned changed or removed (recall labels)."""
    with open(original, encoding="utf-8") as f:
        orig = json.load(f)[:n]
    with open(cleaned, encoding="utf-8") as f:
        clean = json.load(f)
    by_instruction: dict[str, list] = {}
    for rec in clean:
        by_instruction.setdefault(rec["instruction"].strip(), []).append(rec)
    write_jsonl(os.path.join(out, "alpaca.jsonl"), [convert("alpaca", r) for r in orig])
    changed = []
    for line, rec in enumerate(orig, 1):
        kept = by_instruction.get(rec["instruction"].strip(), [])
        same = any(k.get("input", "") == rec.get("input", "") and k["output"] == rec["output"] for k in kept)
        if not same:
            changed.append({"sample": "alpaca", "line": line, "status": "changed" if kept else "removed"})
    write_jsonl(os.path.join(out, "alpaca_cleaned_diff.jsonl"), changed)
    print(f"alpaca: {len(orig)} records, {len(changed)} changed or removed by the cleaned version")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", default=os.environ.get("CURATE_MIRRORS", "/work/.mirror"))
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    ap.add_argument("--alpaca")
    ap.add_argument("--alpaca-cleaned")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name, (repo, path, n, licence, kind) in SOURCES.items():
        records = [convert(kind, r) for r in _records(git_show(args.mirrors, repo, path))[:n]]
        write_jsonl(os.path.join(args.out, f"{name}.jsonl"), records)
        print(f"{name}: {len(records)} records from {repo}:{path} ({licence})")
    if args.alpaca and args.alpaca_cleaned:
        alpaca_diff(args.alpaca, args.alpaca_cleaned, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
