"""Tabular and compressed inputs give the findings of the same records in JSONL; other files are refused."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import zipfile
from pathlib import Path

import pytest

from tests.conftest import write_jsonl

pa = pytest.importorskip("pyarrow")
import pyarrow.csv as pcsv  # noqa: E402  (after the importorskip that guards it)
import pyarrow.ipc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

# planted defects: trailing whitespace (F010), a role alias (F006), a weight of 2 (F008), an
# unknown message key on one message only (F007), two assistants in a row (R), a duplicate (D001)
CHAT = [
    {
        "messages": [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris is the capital of France.  "},
        ]
    },
    {
        "messages": [
            {"role": "human", "content": "Name a primary colour."},
            {"role": "assistant", "content": "Red is a primary colour.", "weight": 2},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "How many legs has a spider?", "lang": "en"},
            {"role": "assistant", "content": "A spider has eight legs."},
            {"role": "assistant", "content": "Eight, to be precise."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris is the capital of France.  "},
        ]
    },
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Boiling point of water?"},
            {"role": "assistant", "content": "100 degrees Celsius at sea level."},
        ]
    },
]
# flat alpaca rows, all text: empty output, surrounding whitespace, a duplicate
ALPACA = [
    {"instruction": "Translate 'cat' to French.", "input": "", "output": "chat"},
    {"instruction": "  Give a synonym of big.", "input": "", "output": "large"},
    {"instruction": "Sum the numbers.", "input": "2, 3", "output": ""},
    {"instruction": "Translate 'cat' to French.", "input": "", "output": "chat"},
    {"instruction": "What is 6 times 7?", "input": "", "output": "42"},
]


def findings(run, path) -> list[tuple]:
    result = run("lint", path, "--output-format", "json")
    assert result.exit_code in (0, 1), result.output
    return [(d["code"], d["line"], d["pointer"]) for d in json.loads(result.output)["diagnostics"]]


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)  # several row groups
    return str(path)


def write_arrow_file(path, rows):
    table = pa.Table.from_pylist(rows)
    with pa.OSFile(str(path), "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    return str(path)


def write_arrow_stream(path, rows):
    table = pa.Table.from_pylist(rows)
    with pa.OSFile(str(path), "wb") as sink, pyarrow.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    return str(path)


def write_csv(path, rows, delimiter=","):
    pcsv.write_csv(pa.Table.from_pylist(rows), path, pcsv.WriteOptions(delimiter=delimiter))
    return str(path)


def compressed(opener):
    def write(path, rows):
        with opener(path, "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        return str(path)

    return write


def _zst(path, rows):
    zstandard = pytest.importorskip("zstandard")
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    with open(path, "wb") as f:
        f.write(zstandard.ZstdCompressor().compress(data))
    return str(path)


WRITERS = {
    "data.parquet": write_parquet,
    "data.arrow": write_arrow_file,
    "stream.arrow": write_arrow_stream,
    "data.jsonl.gz": compressed(gzip.open),
    "data.jsonl.bz2": compressed(bz2.open),
    "data.ndjson.xz": compressed(lzma.open),
    "data.jsonl.zst": _zst,
}


@pytest.mark.parametrize("name", sorted(WRITERS))
@pytest.mark.parametrize("rows", [CHAT, ALPACA], ids=["messages", "alpaca"])
def test_same_findings_as_jsonl(run, tmp_path, name, rows):
    expected = findings(run, write_jsonl(tmp_path / "data.jsonl", rows))
    planted = (
        {("F010", 1), ("F006", 2), ("F008", 2), ("F007", 3), ("R003", 3), ("D001", 4)}
        if rows is CHAT
        else {("F010", 2), ("F009", 3), ("D001", 4)}
    )
    assert planted <= {(c, line) for c, line, _ in expected}
    assert findings(run, WRITERS[name](tmp_path / name, rows)) == expected


@pytest.mark.parametrize("name,delimiter", [("data.csv", ","), ("data.tsv", "\t"), ("data.csv.gz", ",")])
def test_csv_and_tsv_give_the_same_findings_as_jsonl(run, tmp_path, name, delimiter):
    expected = findings(run, write_jsonl(tmp_path / "data.jsonl", ALPACA))
    assert {("F010", 2, "/instruction"), ("F009", 3, "/output"), ("D001", 4, None)} <= set(expected)
    path = write_csv(tmp_path / "plain", ALPACA, delimiter)
    data = Path(path).read_bytes()
    with (gzip.open if name.endswith(".gz") else open)(tmp_path / name, "wb") as f:
        f.write(data)
    assert findings(run, str(tmp_path / name)) == expected


def test_csv_keeps_numbers_and_quoted_newlines_as_text(run, tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text('instruction,input,output\n"Line one\nline two",,42\n', encoding="utf-8")
    result = run("lint", path, "--select", "F008", "--output-format", "json")
    body = json.loads(result.output)
    assert body["summary"]["records"] == 1 and body["diagnostics"] == []  # "42" stays a string


@pytest.mark.parametrize("name,opener", [("data.json.bz2", bz2.open), ("data.json.xz", lzma.open)])
def test_compressed_json_array(run, tmp_path, name, opener):
    expected = findings(run, write_jsonl(tmp_path / "data.jsonl", CHAT))
    with opener(tmp_path / name, "wt", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(r) for r in CHAT) + "\n]\n")
    got = [(c, line - 1, p) for c, line, p in findings(run, str(tmp_path / name)) if c != "Q001"]  # "[" is line 1
    assert got == [x for x in expected if x[0] != "Q001"] and len(got) > 5


def test_content_wins_over_suffix(run, tmp_path):
    """A Parquet file named .jsonl is read as Parquet, a gzip stream without .gz is decompressed."""
    expected = findings(run, write_jsonl(tmp_path / "data.jsonl", CHAT))
    assert findings(run, write_parquet(tmp_path / "mislabelled.jsonl", CHAT)) == expected
    assert findings(run, compressed(gzip.open)(tmp_path / "packed.jsonl", CHAT)) == expected


@pytest.mark.parametrize("first", ["PAR1 not parquet", "BZh91AY not bz2", "ARROW1 not arrow"])
def test_text_that_starts_like_a_magic_number_is_text(run, tmp_path, first):
    path = write_jsonl(tmp_path / "data.jsonl", [first, CHAT[4]])
    assert findings(run, path)[:1] == [("F001", 1, None)]


def test_json_line_is_the_row(run, tmp_path):
    path = write_parquet(tmp_path / "train.parquet", CHAT)
    result = run("lint", path, "--select", "D001", "--output-format", "json")
    [d] = json.loads(result.output)["diagnostics"]
    assert (d["line"], d["related"]) == (4, [{"path": path, "line": 1}])


def _zip(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("train.jsonl", json.dumps(CHAT[0]) + "\n")
    return str(path)


def _blob(path):
    path.write_bytes(bytes(range(256)) * 64)
    return str(path)


def _tar_gz(path):
    with gzip.open(path, "wb") as f:
        f.write(b"train.jsonl" + b"\0" * 500 + b"ustar" + b"\0" * 600)
    return str(path)


def _fake_parquet(path):
    path.write_text(json.dumps(CHAT[0]) + "\n", encoding="utf-8")
    return str(path)


REFUSED = {
    "train.zip": _zip,
    "train.jsonl.zip": _zip,
    "blob.jsonl": _blob,
    "train.tar.gz": _tar_gz,
    "archive.jsonl.gz": _tar_gz,
    "text.parquet": _fake_parquet,
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_files_are_one_error_line(run, tmp_path, name):
    path = REFUSED[name](tmp_path / name)
    before = Path(path).read_bytes()
    for args in (("lint", path), ("fix", path, "--in-place"), ("fix", path, "-o", "out.jsonl")):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: unsupported file format"), result.output
        assert "Parquet" in lines[0] and "JSONL" in lines[0]
    assert Path(path).read_bytes() == before
    assert not os.path.exists(tmp_path / "out.jsonl")


@pytest.mark.parametrize("name", ["data.parquet", "data.arrow", "stream.arrow", "data.csv"])
def test_fix_and_split_refuse_what_they_cannot_write_back_and_change_nothing(run, tmp_path, name):
    path = (WRITERS.get(name) or write_csv)(tmp_path / name, CHAT if name != "data.csv" else ALPACA)
    before = Path(path).read_bytes()
    attempts = [("fix", path, "-o", tmp_path / "out.jsonl"), ("split", path, "-o", tmp_path / "splits")]
    if name != "data.parquet":
        attempts.append(("fix", path, "--in-place"))
    for args in attempts:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith(f"error: {path}: `curate {args[0]}` "), result.output
        assert len(result.output.splitlines()) == 1
        assert {"data.parquet": "Parquet", "data.csv": "CSV"}.get(name, "Arrow IPC") in result.output
    assert Path(path).read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [name]


def test_fix_refuses_to_rewrite_a_compression_it_cannot_write(run, tmp_path):
    path = compressed(bz2.open)(tmp_path / "data.jsonl.bz2", CHAT)
    before = Path(path).read_bytes()
    result = run("fix", path, "--in-place")
    assert result.exit_code == 2 and "bz2" in result.output
    assert Path(path).read_bytes() == before
    result = run("fix", path, "-o", tmp_path / "fixed.jsonl")  # reading it is fine
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "fixed.jsonl").read_text().splitlines()) == 4  # the duplicate went to rejects


def test_missing_pyarrow_names_the_extra(run, tmp_path, monkeypatch):
    import builtins

    path = write_parquet(tmp_path / "data.parquet", CHAT)
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    monkeypatch.delitem(__import__("sys").modules, "pyarrow")
    result = run("lint", path)
    assert result.exit_code == 2
    assert "pip install 'curate-sft[parquet]'" in result.output


def test_certificate_covers_tabular_files(run, tmp_path):
    path = write_parquet(tmp_path / "train.parquet", CHAT[4:])
    result = run("lint", path, "--select", "F", "--certificate", "cert.json")
    assert result.exit_code == 0, result.output
    [entry] = json.loads((tmp_path / "cert.json").read_text())["files"]
    assert (entry["format"], entry["records"], entry["split"]) == ("openai", 1, "train")
    assert run("verify", "cert.json").exit_code == 0
    write_parquet(tmp_path / "train.parquet", CHAT[3:4])
    assert run("verify", "cert.json").exit_code == 1


def by_split(run, paths, split_of) -> dict[str, list[tuple]]:
    result = run("lint", *paths, "--output-format", "json")
    out: dict[str, list[tuple]] = {}
    for d in json.loads(result.output)["diagnostics"]:
        out.setdefault(split_of(d["path"]), []).append((d["code"], d["line"], d["pointer"]))
    return out


def test_dataset_dict_folder_lints_with_its_splits(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    held_out = [CHAT[4]]
    datasets.DatasetDict(
        {"train_sft": datasets.Dataset.from_list(CHAT), "validation": datasets.Dataset.from_list(held_out)}
    ).save_to_disk(str(tmp_path / "dd"))
    expected = by_split(
        run,
        [write_jsonl(tmp_path / "train.jsonl", CHAT), write_jsonl(tmp_path / "eval.jsonl", held_out)],
        lambda p: os.path.basename(p).split(".")[0],
    )
    assert ("L001", 5, None) in expected["train"]
    got = by_split(run, ["dd"], lambda p: {"train_sft": "train", "validation": "eval"}[p.split(os.sep)[1]])
    assert got == expected
    result = run("lint", "dd", "--select", "F001", "--certificate", "cert.json")
    files = json.loads((tmp_path / "cert.json").read_text())["files"]
    assert [(f["path"], f["split"], f["format"], f["records"]) for f in files] == [
        (os.path.join("dd", "train_sft", "data-00000-of-00001.arrow"), "train", "openai", 5),
        (os.path.join("dd", "validation", "data-00000-of-00001.arrow"), "eval", "openai", 1),
    ]
    assert run("verify", "cert.json").exit_code == 0
    with open(tmp_path / "dd" / "validation" / "data-00000-of-00001.arrow", "r+b") as f:
        f.seek(-20, os.SEEK_END)
        byte = f.read(1)
        f.seek(-20, os.SEEK_END)
        f.write(bytes([byte[0] ^ 1]))
    result = run("verify", "cert.json")
    assert result.exit_code == 1 and "validation" in result.output


def test_dataset_folder_is_its_data_files(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(CHAT).save_to_disk(str(tmp_path / "my_eval_set"), num_shards=2)
    expected = findings(run, write_jsonl(tmp_path / "eval.jsonl", CHAT))
    result = run("lint", "my_eval_set", "--output-format", "json")
    diagnostics = json.loads(result.output)["diagnostics"]
    shards = sorted({d["path"] for d in diagnostics})
    assert shards == [os.path.join("my_eval_set", f"data-0000{i}-of-00002.arrow") for i in (0, 1)]
    rows = {shards[0]: 0, shards[1]: 3}  # 5 rows in 2 shards: 3 and 2
    assert sorted(
        (d["code"], d["line"] + rows[d["path"]], d["pointer"]) for d in diagnostics if d["code"] != "D001"
    ) == sorted(x for x in expected if x[0] != "D001")
    from curate.engine import lint_paths

    assert {f.split for f in lint_paths([str(tmp_path / "my_eval_set")]).files} == {"eval"}


def test_hub_style_folder_lints_with_shard_splits(run, tmp_path):
    os.makedirs(tmp_path / "repo" / "data")
    data = tmp_path / "repo" / "data"
    write_parquet(data / "train-00000-of-00002.parquet", CHAT[:3])
    write_parquet(data / "train-00001-of-00002.parquet", CHAT[3:])
    write_parquet(data / "validation-00000-of-00001.parquet", [CHAT[4]])
    (tmp_path / "repo" / "README.md").write_text("---\nconfigs: []\n---\n")
    (tmp_path / "repo" / ".gitattributes").write_text("*.parquet filter=lfs\n")
    result = run("lint", "repo", "--select", "D001,L001", "--output-format", "json")
    found = [
        (
            os.path.basename(d["path"]),
            d["code"],
            d["line"],
            [(os.path.basename(r["path"]), r["line"]) for r in d["related"]],
        )
        for d in json.loads(result.output)["diagnostics"]
    ]
    assert found == [
        ("train-00001-of-00002.parquet", "D001", 1, [("train-00000-of-00002.parquet", 1)]),
        ("train-00001-of-00002.parquet", "L001", 2, [("validation-00000-of-00001.parquet", 1)]),
    ]


def test_fix_writes_parquet_back_with_its_schema_and_loses_nothing(run, tmp_path):
    import datetime

    rows = [dict(r, id=i, blob=bytes([0, 255, i]), day=datetime.date(2024, 1, 1 + i)) for i, r in enumerate(CHAT)]
    table = pa.Table.from_pylist(rows).replace_schema_metadata({"huggingface": '{"info": {}}'})
    path = tmp_path / "train.parquet"
    pq.write_table(table, path, row_group_size=2)
    schema, original = pq.read_schema(path), pq.read_table(path).to_pylist()
    result = run("fix", path, "--in-place")
    assert result.exit_code == 0, result.output
    assert "Read 5 records: kept 4 (2 changed), removed 1." in result.output
    fixed = pq.read_table(path)
    assert fixed.schema.equals(schema, check_metadata=True) and b"huggingface" in schema.metadata
    got = fixed.to_pylist()
    assert [r["id"] for r in got] == [0, 1, 2, 4]  # the duplicate of row 1 is removed
    assert got[0]["messages"][1]["content"] == "Paris is the capital of France."  # F010
    assert got[1]["messages"][0]["role"] == "user"  # F006
    assert got[2] == original[2] and got[3] == original[4]  # untouched rows, binary and dates included
    [reject] = [json.loads(line) for line in (tmp_path / "train.rejects.jsonl").read_text().splitlines()]
    assert (reject["line"], reject["code"], reject["related"]) == (4, "D001", [{"path": str(path), "line": 1}])
    assert json.loads(reject["record"])["id"] == 3
    assert not {code for code, _, _ in findings(run, str(path))} & {"F006", "F010", "D001"}


def test_fix_parquet_to_another_parquet_only(run, tmp_path):
    path = write_parquet(tmp_path / "train.parquet", CHAT)
    before = Path(path).read_bytes()
    assert run("fix", path, "-o", "fixed.parquet").exit_code == 0
    assert pq.read_table(tmp_path / "fixed.parquet").num_rows == 4 and Path(path).read_bytes() == before
    jsonl = write_jsonl(tmp_path / "train.jsonl", CHAT)
    result = run("fix", jsonl, "-o", "fixed2.parquet")
    assert result.exit_code == 2 and "choose a .jsonl, .json or .gz output" in result.output
    assert not os.path.exists(tmp_path / "fixed2.parquet")


@pytest.mark.parametrize("name", ["data/train-00000-of-00001.parquet", "train.jsonl"])
def test_git_lfs_pointer_says_to_pull_the_data(run, tmp_path, name):
    """A dataset repository cloned without git-lfs holds pointer files where the data should be."""
    os.makedirs(tmp_path / "data", exist_ok=True)
    (tmp_path / name).write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 15096\n"
    )
    result = run("lint", ".")
    assert result.exit_code == 2
    assert (
        result.output == f"error: {os.path.join('.', name)}: a Git LFS pointer file, not the data itself; "
        "fetch the data with `git lfs pull`\n"
    )


def test_parquet_is_read_one_row_group_at_a_time(tmp_path):
    """Arrow memory stays at about one row group (1.6 MB here), not the file (19 MB)."""
    from curate.filetype import FileKind
    from curate.tabular import _batches

    rows = [{"instruction": os.urandom(400).hex(), "output": os.urandom(400).hex()} for _ in range(12000)]
    path = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=500)
    top, count = 0, 0
    for batch in _batches(str(path), FileKind("parquet")):
        count += len(batch)
        top = max(top, pa.total_allocated_bytes())
    assert count == len(rows)
    assert top < 8 * 2**20, top


@pytest.mark.parametrize("name", ["data.jsonl.gz", "data.jsonl.bz2", "data.ndjson.xz", "data.jsonl.zst"])
def test_a_truncated_compressed_file_is_an_error_not_fewer_records(run, tmp_path, name):
    path = WRITERS[name](tmp_path / name, CHAT * 200)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    result = run("lint", path)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}: cannot read") and len(result.output.splitlines()) == 1


def test_zstd_frames_are_read_one_after_another(run, tmp_path):
    zstandard = pytest.importorskip("zstandard")
    data = "".join(json.dumps(r) + "\n" for r in CHAT).encode()
    cut = len(data) // 2  # inside a record: a frame boundary need not be a line boundary
    compressor = zstandard.ZstdCompressor()
    (tmp_path / "data.jsonl.zst").write_bytes(compressor.compress(data[:cut]) + compressor.compress(data[cut:]))
    assert findings(run, str(tmp_path / "data.jsonl.zst")) == findings(run, write_jsonl(tmp_path / "data.jsonl", CHAT))
