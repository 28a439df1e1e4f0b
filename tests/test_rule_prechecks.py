"""The cheap tests that skip a record rule's patterns let through every text the patterns find something in:
upper case, separators `str.split` knows, text that is not ASCII, words inside other words."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from curate.cli import cli


def _alpaca(instruction: str, output: str, input: str = "") -> dict:
    return {"instruction": instruction, "input": input, "output": output}


def _chat(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def _findings(tmp_path, code: str, records: list[dict]) -> list[tuple[int, str]]:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["lint", str(path), "--output-format", "json", "--no-progress", "--select", code, "--exit-zero"]
    )
    assert result.exit_code == 0, result.output
    return [(d["line"], d["code"]) for d in json.loads(result.output)["diagnostics"]]


_GERMAN = (
    "Die Inflation wird vor allem durch eine steigende Nachfrage verursacht und nicht durch das Angebot der Waren."
)


def test_q011_finds_foreign_function_words_in_upper_case_and_between_unusual_separators(tmp_path):
    prompt = "What are the main causes of inflation in an economy today?"
    records = [
        _chat(prompt, _GERMAN),
        _chat(prompt, _GERMAN.replace(" ", "\x1c")),  # a separator str.split knows and bytes.split does not
        _chat(prompt, _GERMAN.replace("und nicht", "UND NICHT")),
        _chat(prompt, "Inflation is mostly caused by rising demand that supply does not meet, and by costs."),
    ]
    assert _findings(tmp_path, "Q011", records) == [(1, "Q011"), (2, "Q011"), (3, "Q011")]


def test_q009_finds_references_in_upper_case_and_in_text_that_is_not_ascii(tmp_path):
    records = [
        _chat("Describe the ATTACHED PHOTO in detail.", "The photo shows a beach."),
        _chat("Summarize this article: HTTPS://EXAMPLE.COM/NEWS/1", "The article says prices rose."),
        _chat("Describe the attached photo \u2014 in detail, please.", "The photo shows a beach."),
        _chat("Write a PYTHON function that loads the attached image.", "def load(path): ..."),
        _chat("Describe a beach at sunset.", "The sun sinks into the sea."),
        _chat("Describe this \u017fcreen\u017fhot.", "It shows a login page."),  # IGNORECASE: long s is s
    ]
    assert _findings(tmp_path, "Q009", records) == [(1, "Q009"), (2, "Q009"), (3, "Q009"), (6, "Q009")]


def test_q009_finds_a_reference_to_the_empty_input_in_upper_case(tmp_path):
    records = [
        _alpaca("Rewrite the GIVEN SENTENCE in the passive voice.", "The ball was thrown."),
        _alpaca("Rewrite the sentence in the passive voice.", "The ball was thrown."),
    ]
    assert _findings(tmp_path, "Q009", records) == [(1, "Q009")]


def test_q010_asks_for_whole_words_not_words_inside_others(tmp_path):
    records = [
        _chat("Draw a cat.", "Here is the drawing of a cat: [image]"),
        _chat("DESIGN A LOGO for my bakery.", "Here is the logo: [image]"),
        _chat("Sing me a song about rain.", ""),
        _chat("Using a ruler, measure the human hand.", "[image]"),
        _chat("Make me a nice LOGO for the shop.", "Here is the logo: [image]"),
    ]
    assert _findings(tmp_path, "Q010", records) == [(1, "Q010"), (2, "Q010"), (3, "Q010"), (5, "Q010")]


@pytest.mark.parametrize(
    ("value", "fires"),
    [
        ("N/A", True),
        ("  none. ", True),
        ("\x0bN/A", True),  # a leading separator `strip` keeps: the bare form still starts with "n"
        ("[No Input]", True),
        ("Nothing", True),
        ("Not now", False),
        ("Yes", False),
        ("- ", True),
    ],
)
def test_q007_placeholder_inputs(tmp_path, value, fires):
    records = [_alpaca("Say hello to the reader of this page.", "Hello, reader!", input=value)]
    assert _findings(tmp_path, "Q007", records) == ([(1, "Q007")] if fires else [])


def test_c004_reads_a_prompt_of_only_a_computation(tmp_path):
    records = [
        _alpaca("Calculate 2^3 + 3^2", "11"),
        _alpaca("CALCULATE 2^3 + 3^2", "The result is 11."),
        _alpaca("Calculate the weight of 2^3 + 3^2 apples", "11"),
        _alpaca("Calculate 2^3 + 3^2", "17"),
    ]
    assert _findings(tmp_path, "C004", records) == [(1, "C004"), (2, "C004")]


def test_q003_finds_loops_whatever_separates_the_repeats(tmp_path):
    sentence = "The quick brown fox jumps over the lazy dog again."
    records = [
        _chat("Tell me a story.", "Once " + "upon " * 12 + "a time."),
        _chat("Tell me a story.", "Once " + "upon\x1c" * 12 + "a time."),
        _chat("Tell me a story.", "\n".join([sentence] * 6)),
        _chat("Tell me a story.", " ".join([sentence] * 6)),
        _chat("Tell me a story.", "\n".join([sentence] * 5)),
        _chat("Tell me a story.", "It ends " + "and on " * 12),
    ]
    assert _findings(tmp_path, "Q003", records) == [(1, "Q003"), (2, "Q003"), (3, "Q003"), (4, "Q003"), (6, "Q003")]
