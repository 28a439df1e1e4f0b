"""C001: fact signatures (curate.facts) and contradictions between records with the same prompt."""

from __future__ import annotations

import random

import pytest
from conftest import conv, write_jsonl

from curate import facts
from curate.config import Config
from curate.engine import lint_paths
from curate.text import normalize


def values(text):
    return facts.values(normalize(text))


def _signature(answer: str, prompt: str = "", max_facts: int = 6) -> str:
    """The fact signature of a normalized answer, as the C001 feature builds it."""
    limit = 4 * max_facts
    return facts.signature_of(
        facts.values(answer, limit=limit), facts.values(prompt, polarity=False, limit=limit), max_facts
    )


@pytest.mark.parametrize(
    "a, b",
    [
        ("It costs 1,000 dollars.", "It costs 1000 dollars."),
        ("3.50", "3.5"),
        ("3.0", "3"),
        ("-0", "0"),
        ("It was 007.", "It was 7."),
        ("Code J20.9.", "code j20.9"),
        ("March 4, 2021", "2021-03-04"),
        ("4 March 2021", "03/04/2021"),
        ("4th of March, 2021", "04.03.2021"),
        ("Mar. 4 2021", "2021/03/04"),
    ],
)
def test_equal_facts_in_other_forms(a, b):
    assert values(a) == values(b) and values(a)


def test_fact_kinds():
    assert values("J20.9 and covid-19 and x86-64") == {"code": {"j20.9", "covid-19", "x86-64"}}
    assert values("About 5mg at 3pm, the 1st and 2nd; 10-20 pages") == {"number": {"5", "3", "1", "2", "10", "20"}}
    assert values("version 3.5.1 vs python 3.11") == {"number": {"3.5.1", "3.11"}}
    assert values("25/12/2020, march 2021, june 5th") == {"date": {"2020-12-25", "2021-03", "06-05"}}
    assert values("You may 5 times") == {"number": {"5"}}  # "may 5" is no date without a year
    assert values("The year 2021 and the date 2021-03-04")["number"] == {"2021"}  # a date's year is no number
    assert values("No code here, no digits.") == {}


@pytest.mark.parametrize(
    "answer, polarity",
    [
        ("Yes, it is.", "yes"),
        ("yes it is", "yes"),
        ("**Yes**", "yes"),
        ("Correct.", "yes"),
        ("Of course!", "yes"),
        ("No.", "no"),
        ("No, never.", "no"),
        ("Nope", "no"),
        ("Not at all.", "no"),
        ("Of course not.", "no"),
        ("No problem, here it is.", None),
        ("Yesterday it rained.", None),
        ("Correct the spelling first.", None),
        ("Not only that, but...", None),
        ("Of course there are exceptions.", None),
    ],
)
def test_polarity(answer, polarity):
    assert values(answer).get("polarity") == ({polarity} if polarity else None)


@pytest.mark.parametrize(
    "a, b, kinds",
    [
        ("84", "The answer is 86.", ["number"]),
        ("J20.9", "It is J21.9.", ["code"]),
        ("Yes.", "No, it is not.", ["polarity"]),
        ("November 9, 1989", "1989-11-10", ["date"]),
        ("6, 7 and 42", "6, 7 and 43", ["number"]),
        ("84", "The product is 84.", []),  # a paraphrase
        ("84", "84, since 80 + 4 = 84", []),  # more detail, the same fact
        ("It fell in March 2021.", "It fell on 2021-03-04.", []),  # a date and a finer one agree
        ("Paris.", "The capital is Paris, population 2,100,000.", []),  # one lacks the fact
        ("84", "Yes.", []),  # different kinds never conflict
    ],
)
def test_conflicts(a, b, kinds):
    found = facts.conflicts(_signature(normalize(a)), _signature(normalize(b)))
    assert [kind for kind, _, _ in found] == kinds


def test_prompt_facts_are_left_out_and_long_form_is_ignored():
    assert _signature("12 times 7 is 84", "what is 12 times 7?") == "number:84"
    many = " ".join(str(n) for n in range(1, 9))
    assert _signature(many) == ""
    assert _signature(many, max_facts=10)
    table = "yes. " + " ".join(["1"] * 30) + " then 2"  # more digit words than 4 * max_facts: not read to the end
    assert facts.TRUNCATED in facts.values(table)
    assert _signature(table) == "polarity:yes"


def test_negation_key():
    safe, unsafe = (
        facts.negation_key("aspirin is safe for children."),
        facts.negation_key("aspirin is not safe for children."),
    )
    assert safe[0] == unsafe[0] != 0 and safe[1] != unsafe[1]
    assert facts.negation_key("aspirin isn't safe for children")[0] == safe[0]
    assert facts.negation_key("no, aspirin is safe for children.") == safe  # a leading "no" answers, it does not negate
    assert facts.negation_key("no.") == (0, 0)
    assert facts.negation_key(" ".join(["word"] * 60)) == (0, 0)


def lint(tmp_path, records, **rules):
    path = write_jsonl(tmp_path / "train.jsonl", records)
    result = lint_paths([path], Config(select=["C001"], rules=rules))
    return [(d.line, d.related[0].line, d.message) for d in result.diagnostics]


def test_contradictions_at_exact_lines(tmp_path):
    q = "What is the ICD-10 code for acute bronchitis?"
    records = [
        conv(q, "J20.9"),
        conv("What is 2+2?", "4"),
        conv(q, "The code is J20.9."),
        conv(q, "J21.9"),
        conv(q, "It is J20.9, acute bronchitis."),
    ]
    ((line, related, message),) = lint(tmp_path, records)
    assert (line, related) == (4, 1)
    assert "code j21.9 vs j20.9" in message and "train.jsonl:1" in message and "the same prompt" in message


def test_only_records_against_the_accepted_answers_are_flagged(tmp_path):
    q = "What is 12 times 7?"
    assert [(a, b) for a, b, _ in lint(tmp_path, [conv(q, "84"), conv(q, "86"), conv(q, "84"), conv(q, "88")])] == [
        (2, 1),
        (4, 1),
    ]


def test_templated_prompts_differing_in_a_number_are_different_questions(tmp_path):
    rng = random.Random(1)
    records = []
    for _ in range(300):
        a, b = rng.randrange(2, 99), rng.randrange(2, 99)
        records.append(conv(f"What is {a} times {b}?", f"{a} times {b} is {a * b}."))
    # long prompts differing in one number are near (> 0.9) but still another question
    story = (
        "A train leaves the station at noon and travels at a steady speed along a straight track through the "
        "hills and the valley, stopping nowhere, until it reaches the coast; the distance is {} kilometres and "
        "the trip takes two hours. What is its speed?"
    )
    records += [conv(story.format(d), f"{d // 2} km/h") for d in (240, 250, 260)]
    records.append(conv(story.format(240), "125 km/h"))
    assert [(a, b) for a, b, _ in lint(tmp_path, records)] == [(304, 301)]


def test_near_prompts_and_system_prompts(tmp_path):
    q = (
        "During the long history of space exploration and the Cold War race between two superpowers, in which "
        "calendar year did a human being first walk on the surface of the Moon? Answer with the year only, "
        "please, and nothing else at all."
    )
    records = [
        conv(q, "1969."),
        conv("Please answer: " + q, "In 1970."),  # prompt Jaccard ~0.9: compared
        conv(q, "1971.", "You are a historian."),  # another system prompt: not compared
        conv("Is it safe to mix bleach and ammonia?", "Mixing bleach and ammonia is safe."),
        conv("Is it safe to mix bleach and ammonia?", "Mixing bleach and ammonia is not safe."),
        conv("Is it not safe to mix bleach and ammonia?", "Mixing bleach and ammonia is not safe."),
    ]
    found = lint(tmp_path, records)
    assert [(a, b) for a, b, _ in found] == [(2, 1), (5, 4)]
    assert "near-identical prompt (similarity 0.9" in found[0][2] and "number 1970 vs 1969" in found[0][2]
    assert "negation" in found[1][2]


def test_split_groups_and_threshold_option(tmp_path):
    q = (
        "Please tell me, in a single word and without any explanation at all, which one of the planets in our "
        "solar system is known for the most spectacular ring system"
    )
    records = [conv(q + "?", "Saturn, 1."), conv(q + " ?!", "Saturn, 2.")]
    assert len(lint(tmp_path, records)) == 1
    assert not lint(tmp_path, records, C001={"threshold": 1.0})
    evals = write_jsonl(tmp_path / "eval.jsonl", [conv(q + "?", "Saturn, 3.")])
    train = write_jsonl(tmp_path / "train.jsonl", records[:1])
    assert not lint_paths([train, evals], Config(select=["C001"])).diagnostics
