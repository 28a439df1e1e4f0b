"""Record every finding `curate lint` reports on the fixtures, the demo and a synthetic set; compare later.

    python bench/compare_findings.py save DIR     # before a change
    python bench/compare_findings.py check DIR    # after: prints every input whose output differs

Inputs: fixtures/demo/conversations.jsonl, every fixtures/rules/*/ case (its `paths` and `args`),
and --records generated conversations (bench/synth.py, default 20,000), all rules on, JSON output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from synth import write  # noqa: E402


def cases(records: int, tmp: str):
    """(name, working directory, lint arguments) for every input."""
    yield "demo", ROOT, ["fixtures/demo/conversations.jsonl"]
    rules = os.path.join(ROOT, "fixtures", "rules")
    for code in sorted(os.listdir(rules)):
        folder = os.path.join(rules, code)
        case = {}
        if os.path.exists(os.path.join(folder, "case.toml")):
            with open(os.path.join(folder, "case.toml"), "rb") as f:
                case = tomllib.load(f)
        yield code, folder, list(case.get("args", [])) + list(case.get("paths", ["."]))
    path = os.path.join(tmp, "synth.jsonl")
    write(path, records)
    yield "synth", tmp, ["synth.jsonl"]


def lint(cwd: str, args: list[str], jobs: int) -> str:
    cmd = [
        sys.executable,
        "-m",
        "curate",
        "lint",
        "--output-format",
        "json",
        "--exit-zero",
        "--no-progress",
        "--jobs",
        str(jobs),
        *args,
    ]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return done.stdout + (f"\n[exit {done.returncode}]\n" + done.stderr if done.returncode else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save", "check"])
    parser.add_argument("dir")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, cwd, lint_args in cases(args.records, tmp):
            out = lint(cwd, lint_args, args.jobs)
            stored = os.path.join(args.dir, f"{name}.json")
            if args.action == "save":
                with open(stored, "w", encoding="utf-8") as f:
                    f.write(out)
            else:
                with open(stored, encoding="utf-8") as f:
                    if f.read() != out:
                        differ += 1
                        print(f"differs: {name}")
    print(f"{differ} differing outputs" if args.action == "check" else f"saved in {args.dir}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
