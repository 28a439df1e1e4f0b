"""Property: `curate fix --unsafe` on generated JSONL, pretty and minified JSON arrays, with odd bytes,
odd numbers, CRLF and blank lines, loses nothing: output records plus rejects are the input records,
byte for byte, and every kept record is its input byte for byte or exactly its fixed version."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.cli import cli
from curate.edits import apply_edits
from curate.formats import FORMATS
from curate.parse import parse
from curate.reader import FileInfo, read_file
from curate.records import Record
from curate.rules.content import fix_whitespace
from curate.rules.format import fix_role_aliases

TEXTS = [
    b"hi",
    b" hi",
    b"hi\\n",
    b"caf\\u00e9 ",
    b"caf\xc3\xa9",
    b"caf\xe9",
    b"caf\xe8",
    b"x\x00y ",
    b"\\ud83d\\ude00 ",
    b"Tab\\t",
    b"  code\\n    more",
    b"same words here and there",
    b"\\/ \\\" q",
]
STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
USER_ROLES = [b"user", b"human", b"User"]
ASSISTANT_ROLES = [b"assistant", b"gpt"]
SEPARATORS = [(b", ", b": "), (b",", b":"), (b" ,  ", b"  :  ")]
EXTRAS = [
    b"",
    b'"n"%s1e999',
    b'"big"%s123456789012345678901234567890',
    b'"f"%s0.10000000000000001',
    b'"z"%s-0.0E+00',
    b'"id"%s1,"id"%s2',
]


@st.composite
def records(draw) -> bytes:
    item, kv = draw(st.sampled_from(SEPARATORS))
    extra = draw(st.sampled_from(EXTRAS)).replace(b"%s", kv)
    user, answer = draw(st.sampled_from(TEXTS)), draw(st.sampled_from(TEXTS))
    messages = (
        b"[{"
        + b'"role"'
        + kv
        + b'"'
        + draw(st.sampled_from(USER_ROLES))
        + b'"'
        + item
        + b'"content"'
        + kv
        + b'"'
        + user
        + b'"}'
        + item
        + b"{"
        + b'"content"'
        + kv
        + b'"'
        + answer
        + b'"'
        + item
        + b'"role"'
        + kv
        + b'"'
        + draw(st.sampled_from(ASSISTANT_ROLES))
        + b'"}]'
    )
    return b"{" + (extra + item if extra else b"") + b'"messages"' + kv + messages + b"}"


@st.composite
def datasets(draw):
    """(file name, file bytes, records in order, layout) with records repeated from a small pool."""
    pool = draw(st.lists(records(), min_size=1, max_size=5))
    chosen = draw(st.lists(st.sampled_from(pool), max_size=10))
    layout = draw(st.sampled_from(["jsonl", "pretty", "minified"]))
    if layout == "jsonl":
        lines = []
        for rec in chosen:
            bom = b"\xef\xbb\xbf" if draw(st.integers(0, 9)) == 0 else b""
            blank = draw(st.sampled_from([b"", b"\n", b"  \r\n"]))
            lines.append((blank, bom + rec, draw(st.sampled_from([b"\n", b"\r\n"]))))
        if lines and draw(st.booleans()):
            lines[-1] = lines[-1][:2] + (b"",)  # no line ending at the end of the file
        return "train.jsonl", lines, [bom_rec for _, bom_rec, _ in lines], layout
    return "train.json", None, chosen, layout


def render(layout, lines, recs, keep) -> bytes:
    """The file with only the records whose index is in `keep` (everything else as written)."""
    if layout == "jsonl":
        return b"".join(blank + (rec + end if i in keep else b"") for i, (blank, rec, end) in enumerate(lines))
    kept = [r for i, r in enumerate(recs) if i in keep]
    if layout == "minified":
        return b"[" + b",".join(kept) + b"]"
    return b"[\n  " + b",\n  ".join(kept) + b"\n]\n" if kept else b"[\n  \n]\n"


def read_back(path) -> list[Record]:
    return list(read_file(FileInfo(str(path), "unsplit", ""), None, 0))


def run_fix(tmp, name, select):
    result = CliRunner().invoke(
        cli,
        [
            "fix",
            str(tmp / name),
            "--unsafe",
            "--select",
            select,
            "-o",
            str(tmp / f"out{name[5:]}"),
            "--rejects",
            str(tmp / "rej.jsonl"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rejects = (
        [json.loads(line) for line in (tmp / "rej.jsonl").read_text("utf-8").splitlines()]
        if (tmp / "rej.jsonl").exists()
        else []
    )
    return tmp / f"out{name[5:]}", rejects


def reject_bytes(entry) -> bytes:
    return base64.b64decode(entry["record_base64"]) if "record_base64" in entry else entry["record"].encode("utf-8")


def removed_indices(inputs: list[Record], rejects) -> set[int]:
    where = {(r.element or r.line): i for i, r in enumerate(inputs)}
    return {where[e.get("element") or e["line"]] for e in rejects}


def setup(tmp, data):
    name, lines, recs, layout = data
    everything = set(range(len(recs)))
    (tmp / name).write_bytes(render(layout, lines, recs, everything))
    inputs = read_back(tmp / name)
    assert [r.raw for r in inputs] == recs  # the reader finds exactly the records written
    return name, lines, recs, layout, inputs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(datasets())
def test_removals_keep_every_record_byte_for_byte(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fix")
    name, lines, recs, layout, inputs = setup(tmp, data)
    out, rejects = run_fix(tmp, name, "D001,D002")
    kept = [r.raw for r in read_back(out)]
    assert Counter(kept) + Counter(reject_bytes(e) for e in rejects) == Counter(recs)
    removed = removed_indices(inputs, rejects)
    assert out.read_bytes() == render(layout, lines, recs, set(range(len(recs))) - removed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(datasets())
def test_fixes_change_only_what_they_fix(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fix")
    name, lines, recs, layout, inputs = setup(tmp, data)
    out, rejects = run_fix(tmp, name, "F006,F010,D001,D002")
    removed = removed_indices(inputs, rejects)
    assert Counter(reject_bytes(e) for e in rejects) == Counter(recs[i] for i in removed)
    outputs = read_back(out)
    originals = [r for i, r in enumerate(inputs) if i not in removed]
    assert len(outputs) == len(originals)
    for before, after in zip(originals, outputs):
        if after.raw == before.raw:
            continue
        parse(before)
        assert before.encoding_issue is None and not before.duplicate_keys
        fmt = FORMATS[before.fmt]
        edits = fix_role_aliases(before.data, fmt) + fix_whitespace(before.data, fmt)
        assert json.loads(after.raw) == apply_edits(before.data, edits)
        assert STRING.sub(b'""', after.raw) == STRING.sub(b'""', before.raw)  # only string tokens changed
    if layout == "jsonl":  # blank lines and line endings where they were
        skeleton = b"".join(blank for blank, _, _ in lines)
        assert out.read_bytes().count(b"\n") == skeleton.count(b"\n") + sum(
            end == b"\n" or end == b"\r\n" for i, (_, _, end) in enumerate(lines) if i not in removed
        )
