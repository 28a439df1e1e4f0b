"""Content rules from real datasets (Q007-Q011, C004) and the per-file shape rules, as a user sees them."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
from click.testing import CliRunner

from curate.cli import cli
from curate.rules.arithmetic import evaluate
from curate.similarity import ShingleSets, without_common
from curate.text import normalize


def _lint(tmp_path, records, *args, name="train.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", str(path), "--output-format", "json", "--no-progress", *args])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)["diagnostics"]


def test_arithmetic_evaluator_is_exact_and_never_runs_code():
    assert evaluate("2^3 + 3^2") == 17
    assert evaluate("(6+2)*(2-2)") == 0
    assert evaluate("10 / 4") == Fraction(5, 2)
    assert evaluate("3 x 4") == 12
    assert evaluate("1,000 + 1") == 1001
    for unsure in ("__import__('os').system('true')", "2 ** 100000", "1 / 0", "2021-03-04", "x + 1", "9" * 400):
        assert evaluate(unsure) is None, unsure


def test_placeholder_is_an_error_in_a_reply_and_a_warning_in_a_prompt(tmp_path):
    records = [
        {"instruction": "Name a colour.", "input": "<noinput>", "output": "Blue."},
        {"instruction": "Render a 3D model of a house", "input": "", "output": "<nooutput>"},
    ]
    found = {(d["line"], d["severity"]) for d in _lint(tmp_path, records, "--select", "Q007")}
    assert found == {(1, "warning"), (2, "error")}


def test_configured_severity_overrides_the_per_finding_default(tmp_path):
    records = [{"instruction": "Name a colour.", "input": "<noinput>", "output": "<nooutput>"}]
    config = tmp_path / "curate.toml"
    config.write_text('[severity]\nQ007 = "info"\n', encoding="utf-8")
    found = _lint(tmp_path, records, "--select", "Q007", "--config", str(config))
    assert sorted(d["severity"] for d in found) == ["info", "info"]


def test_unknown_keys_are_one_finding_per_file_with_their_count(tmp_path):
    records = [
        {
            "messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello"}],
            "source": "crawl",
        }
        for i in range(5)
    ]
    found = _lint(tmp_path, records, "--select", "F007")
    assert [(d["line"], d["code"]) for d in found] == [(1, "F007")]
    assert "in 5 records of this file" in found[0]["message"]


def test_an_unrecognised_shape_is_one_error_per_file_naming_its_keys(tmp_path):
    records = [{"question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(4)]
    found = _lint(tmp_path, records, "--select", "F")
    assert [(d["line"], d["code"], d["severity"]) for d in found] == [(1, "F004", "error")]
    assert "`question`, `answer`" in found[0]["message"] and "4 records" in found[0]["message"]


def test_tex_markup_is_ignored_by_normalized_text():
    assert normalize(r"Let $f(x) = \dfrac{x+1}{2}$. Find $f(3)$.") == normalize("Let f(x) = x+1/2. Find f(3).")
    assert normalize(r"$2 \cdot 3 \times 4$") == "2 * 3 * 4"
    assert normalize("It costs 5 dollars.") == "it costs 5 dollars."


def test_boilerplate_shingles_leave_the_comparison_but_short_rests_keep_their_set():
    shared = list(range(100, 130))
    sets = ShingleSets.from_arrays(
        [np.array(shared + [10_000 + i * 100 + k for k in range(8)]) for i in range(20)] + [np.array(shared + [9000])]
    )
    kept = without_common(sets, share=0.05, min_records=10)
    assert all(len(kept[i]) == 8 for i in range(20))  # the shared 30 are boilerplate
    assert len(kept[20]) == 31  # one shingle besides boilerplate: compared whole
