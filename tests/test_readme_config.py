"""The README's configuration examples work when pasted as they are."""

from __future__ import annotations

import os
import re

from conftest import conv, write_jsonl

from curate.train.config import load_config as load_train_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _examples() -> list[str]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme[readme.index("## Configuration\n") : readme.index("## Pre-commit\n")]
    return re.findall(r"```toml\n(.*?)```", section, re.S)


def test_main_example_loads_and_lints(run, tmp_path):
    example = _examples()[0]
    assert example.startswith("[tool.curate]\n")
    (tmp_path / "pyproject.toml").write_text(example)
    (tmp_path / "data" / "heldout").mkdir(parents=True)
    (tmp_path / "benchmarks").mkdir()
    write_jsonl(tmp_path / "data" / "sft-a.jsonl", [conv("What is the tallest mountain on Earth?", "Mount Everest.")])
    write_jsonl(tmp_path / "data" / "heldout" / "h.jsonl", [conv("How many moons has Mars?", "Two.")])
    write_jsonl(tmp_path / "benchmarks" / "b.jsonl", [conv("Name a noble gas.", "Neon.")])
    settings = run("lint", "--show-settings")
    assert settings.exit_code == 0, settings.output
    assert "found in the working directory" in settings.output
    rows = [line.split()[:3] for line in run("lint", "--show-files").output.splitlines()]
    assert rows[:3] == [
        ["data/heldout/h.jsonl", "openai", "eval"],
        ["data/sft-a.jsonl", "openai", "train"],
        ["benchmarks/b.jsonl", "openai", "reference"],
    ]
    result = run("lint")
    assert result.exit_code in (0, 1) and "error:" not in result.output, result.output
    train = load_train_config(str(tmp_path / "pyproject.toml"), {})
    assert (train.lora_r, train.epochs) == (32, 2)


def test_field_examples_load(run, tmp_path):
    examples = _examples()[1:]
    assert len(examples) == 2
    records = [
        {
            "id": 1,
            "source": "web",
            "question": "Capital of Peru?",
            "context": "",
            "answer": "Lima.",
            "system_prompt": "Be brief.",
        },
        {"dialog": [{"speaker": "questioner", "text": "Capital of Peru?"}, {"speaker": "expert", "text": "Lima."}]},
    ]
    for example, record in zip(examples, records):
        (tmp_path / "pyproject.toml").write_text(example)
        write_jsonl(tmp_path / "x.jsonl", [record])
        result = run("lint", "x.jsonl", "--select", "F,R")
        assert result.exit_code == 0 and result.output.startswith("All checks passed"), result.output
