"""`[fields]` / `--field` map a dataset's own columns and role values onto curate's model."""

from __future__ import annotations

import json

import pytest
from conftest import write_jsonl

QA = [
    {"id": 1, "question": "What is the boiling point of water at sea level?", "answer": "100 degrees Celsius. "},
    {"id": 2, "question": "Name the largest planet in the solar system.", "answer": ""},
    {"id": 3, "question": "How many legs does a spider have?", "answer": "Eight."},
]
DIALOG = [
    {
        "dialog": [
            {"speaker": "asker", "text": "Is the Moon a planet?"},
            {"speaker": "expert", "text": "No, it is a natural satellite. "},
        ]
    },
    {"dialog": [{"speaker": "asker", "text": "Hi"}, {"speaker": "narrator", "text": "..."}]},
]
DIALOG_FIELDS = (
    '[fields]\nmessages = "dialog"\nrole = "speaker"\ncontent = "text"\n'
    '[fields.roles]\nuser = ["asker", "questioner"]\nassistant = "expert"\n'
)


def _found(run, *args):
    result = run("lint", *args, "--select", "F,R", "--output-format", "json")
    assert result.exit_code in (0, 1), result.output
    return [(d["line"], d["code"], d["pointer"]) for d in json.loads(result.output)["diagnostics"]]


def test_flat_columns_from_config(run, tmp_path):
    write_jsonl(tmp_path / "qa.jsonl", QA)
    (tmp_path / "curate.toml").write_text(
        '[fields]\nprompt = "question"\nresponse = "answer"\n[rules.F007]\nallowed_keys = ["id"]\n'
    )
    assert _found(run, "qa.jsonl") == [(1, "F010", "/answer"), (2, "F009", "/answer")]


def test_flat_columns_from_the_command_line(run, tmp_path):
    write_jsonl(tmp_path / "qa.jsonl", QA)
    found = _found(run, "qa.jsonl", "--field", "prompt=question", "--field", "response=answer")
    assert (1, "F010", "/answer") in found and (2, "F009", "/answer") in found
    assert {code for _, code, _ in found} == {"F007", "F009", "F010"}  # `id` is not declared: F007
    # without the mapping the records are not conversations at all
    assert {code for _, code, _ in _found(run, "qa.jsonl")} >= {"F004"}


def test_message_list_keys_and_role_values(run, tmp_path):
    write_jsonl(tmp_path / "chat.jsonl", DIALOG)
    (tmp_path / "curate.toml").write_text(DIALOG_FIELDS)
    found = _found(run, "chat.jsonl")
    assert (1, "F010", "/dialog/1/text") in found
    assert (2, "F006", "/dialog/1/speaker") in found  # narrator is no role
    assert not [f for f in found if f[0] == 1 and f[1] != "F010"]


def test_role_values_from_the_command_line(run, tmp_path):
    write_jsonl(tmp_path / "chat.jsonl", DIALOG[:1])
    found = _found(
        run,
        "chat.jsonl",
        "--field",
        "messages=dialog",
        "--field",
        "role=speaker",
        "--field",
        "content=text",
        "--field",
        "roles.user=asker",
        "--field",
        "roles.assistant=expert",
    )
    assert found == [(1, "F010", "/dialog/1/text")]


def test_fix_edits_the_mapped_column(run, tmp_path):
    write_jsonl(tmp_path / "qa.jsonl", QA[:1] + QA[2:])
    (tmp_path / "curate.toml").write_text('[fields]\nprompt = "question"\nresponse = "answer"\n')
    result = run("fix", "qa.jsonl", "--output", "clean.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert rows[0] == {**QA[0], "answer": "100 degrees Celsius."} and rows[1] == QA[2]


def test_show_files_names_the_mapped_format(run, tmp_path):
    write_jsonl(tmp_path / "qa.jsonl", QA)
    out = run("lint", "qa.jsonl", "--show-files", "--field", "prompt=question", "--field", "response=answer").output
    assert 'alpaca:{"prompt":"question","response":"answer"}' in out and "3 records" in out


@pytest.mark.parametrize(
    "table, needle",
    [
        ('[fields]\nquestion = "q"\n', "unknown field 'question'"),
        ('[fields]\nmessages = "dialog"\nprompt = "q"\n', "cannot be mixed"),
        ('[fields]\nprompt = 3\n', "field 'prompt' must name a column"),
        ('[fields.roles]\nnarrator = ["n"]\n', "'narrator' is not a role"),
        ('format = "alpaca"\n[fields]\nrole = "speaker"\n', "needs a message-list format"),
    ],
)
def test_bad_mappings_are_config_errors(run, tmp_path, table, needle):
    write_jsonl(tmp_path / "qa.jsonl", QA)
    (tmp_path / "curate.toml").write_text(table)
    result = run("lint", "qa.jsonl")
    assert result.exit_code == 2 and result.output.startswith("error: ") and needle in result.output, result.output


def test_bad_field_option(run, tmp_path):
    write_jsonl(tmp_path / "qa.jsonl", QA)
    result = run("lint", "qa.jsonl", "--field", "prompt")
    assert result.exit_code == 2 and "KEY=COLUMN" in result.output


def test_split_reads_through_the_mapping(run, tmp_path):
    rows = [
        {"question": f"Question number {i} about the history of {t}?", "answer": f"Answer {i} on {t}."}
        for i, t in enumerate(["maps", "clocks", "bridges", "ships", "paper", "glass", "salt", "tea"])
    ]
    write_jsonl(tmp_path / "qa.jsonl", rows)
    (tmp_path / "curate.toml").write_text('[fields]\nprompt = "question"\nresponse = "answer"\n')
    result = run("split", "qa.jsonl", "--ratios", "0.75,0.25", "--seed", "0", "--output-dir", "out")
    assert result.exit_code == 0, result.output
    written = [
        json.loads(line)
        for name in ("train.jsonl", "eval.jsonl")
        for line in (tmp_path / "out" / name).read_text().splitlines()
    ]
    assert sorted(written, key=lambda r: r["question"]) == sorted(rows, key=lambda r: r["question"])


def test_mapped_format_round_trips_through_its_settings(tmp_path):
    from curate.config import Config, load_config

    (tmp_path / "curate.toml").write_text('[fields]\nprompt = "question"\nresponse = "answer"\n')
    cfg = load_config(str(tmp_path / "curate.toml"))
    again = Config.from_table({"format": cfg.format, "fields": cfg.fields}, "certificate")
    assert again.format == cfg.format == 'alpaca:{"prompt":"question","response":"answer"}'
    assert again.digest() == cfg.digest()
