"""Output paths are checked before anything is written, inputs are locked and watched, reads are bounded.

Every refusal is one `error:` line and exit 2, and leaves every file as it was.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import json
import os
import stat
import subprocess
import sys
import time
import tracemalloc
import zlib

import pytest
from conftest import conv, write_jsonl

from curate import atomic
from curate.config import Config
from curate.engine import lint_paths
from curate.errors import CurateError
from curate.reader import FileInfo, read_file

A, B = conv("What is 2+2?", "4."), conv("Name a colour.", "Blue.")
CURATE = [sys.executable, "-m", "curate"]


def _error_line(result) -> str:
    """The single `error:` line of a refused run (click's runner mixes stderr into output)."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _snapshot(directory) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# --------------------------------------------------------------------------
# Outputs are never inputs, nor each other


@pytest.mark.parametrize(
    "args",
    [
        ["fix", "a.jsonl", "-o", "out.jsonl", "--rejects", "a.jsonl"],
        ["fix", "a.jsonl", "-o", "out.jsonl", "--rejects", "./out.jsonl"],
        ["fix", "a.jsonl", "-o", "a.jsonl"],
        ["fix", "a.jsonl", "a.rejects.jsonl", "--in-place"],
        ["fix", "a.jsonl", "-o", "r.json", "--reference", "r.json"],
        ["lint", "a.jsonl", "-o", "a.jsonl"],
        ["lint", "a.jsonl", "--certificate", "./a.jsonl"],
        ["lint", "a.jsonl", "--write-baseline", "a.jsonl"],
        ["lint", "a.jsonl", "-o", "r.json", "--certificate", "r.json"],
        ["lint", "a.jsonl", "-o", "r.json", "--write-baseline", "link.json"],
    ],
)
def test_outputs_that_are_inputs_or_each_other_are_refused(run, tmp_path, args):
    write_jsonl(tmp_path / "a.jsonl", [A, A, B])
    write_jsonl(tmp_path / "a.rejects.jsonl", [B, B])  # a dataset that happens to be named like a rejects file
    (tmp_path / "r.json").write_text("{}")
    (tmp_path / "link.json").symlink_to("r.json")
    before = _snapshot(tmp_path)
    line = _error_line(run(*args))
    assert "input" in line or "same file" in line
    assert _snapshot(tmp_path) == before


def test_the_same_file_twice_is_read_once(run, tmp_path):
    (tmp_path / "ds").mkdir()
    write_jsonl(tmp_path / "ds" / "train.jsonl", [A, B, A])
    result = run("fix", "ds", "ds/train.jsonl", "./ds/train.jsonl", "--in-place")
    assert result.exit_code == 0, result.output
    assert "Read 3 records: kept 2" in result.output
    kept = [json.loads(x) for x in (tmp_path / "ds" / "train.jsonl").read_text().splitlines()]
    assert kept == [A, B]
    rejects = (tmp_path / "ds" / "train.rejects.jsonl").read_text().splitlines()
    assert [json.loads(json.loads(x)["record"]) for x in rejects] == [A]


def test_lint_counts_a_file_given_twice_once(run, tmp_path, clean_records):
    write_jsonl(tmp_path / "f.jsonl", clean_records)
    result = run("lint", "f.jsonl", "./f.jsonl", "--select", "D001", "--no-progress")
    assert result.exit_code == 0 and "D001" not in result.output, result.output


def test_rejects_file_name_is_jsonl_for_json_outputs(run, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([A, A]))
    result = run("fix", "a.json", "-o", "out.json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.rejects.jsonl").exists() and not (tmp_path / "out.rejects.json").exists()


def test_output_that_is_not_a_regular_file_is_refused(run, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [A])
    if os.geteuid() == 0:  # a private /dev/full: a regression must not replace the system's
        os.mknod(tmp_path / "full", 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        assert "not a regular file" in _error_line(run("lint", "a.jsonl", "-o", "full"))
        assert stat.S_ISCHR(os.stat(tmp_path / "full").st_mode)
    os.mkfifo(tmp_path / "pipe.jsonl")
    assert "not a regular file" in _error_line(run("fix", "a.jsonl", "-o", "pipe.jsonl"))


# --------------------------------------------------------------------------
# The rejects file of an earlier run is never lost


def test_rejects_of_earlier_runs_are_appended_to(run, tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [A, B, A])
    first = run("fix", "t.jsonl", "--in-place")
    assert first.exit_code == 0 and "appended" not in first.output, first.output
    earlier = (tmp_path / "t.rejects.jsonl").read_bytes()
    write_jsonl(path, [B, A, B])
    second = run("fix", "t.jsonl", "--in-place")
    assert second.exit_code == 0, second.output
    assert "Removed records are in t.rejects.jsonl (appended after the records of earlier runs)" in second.output
    now = (tmp_path / "t.rejects.jsonl").read_bytes()
    assert now.startswith(earlier)
    assert [json.loads(json.loads(x)["record"]) for x in now.splitlines()] == [A, B]


def test_a_run_that_removes_nothing_leaves_the_rejects_file_alone(run, tmp_path):
    write_jsonl(tmp_path / "t.jsonl", [A, B])
    result = run("fix", "t.jsonl", "--in-place")
    assert result.exit_code == 0 and not (tmp_path / "t.rejects.jsonl").exists(), result.output
    (tmp_path / "t.rejects.jsonl").write_bytes(b'{"record": "from an earlier run"}')  # no final newline
    os.utime(tmp_path / "t.rejects.jsonl", ns=(1, 1))
    result = run("fix", "t.jsonl", "--in-place")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t.rejects.jsonl").read_bytes() == b'{"record": "from an earlier run"}'
    assert os.stat(tmp_path / "t.rejects.jsonl").st_mtime_ns == 1
    write_jsonl(tmp_path / "t.jsonl", [A, A])
    assert run("fix", "t.jsonl", "--in-place").exit_code == 0
    lines = (tmp_path / "t.rejects.jsonl").read_bytes().splitlines()
    assert lines[0] == b'{"record": "from an earlier run"}' and json.loads(json.loads(lines[1])["record"]) == A


# --------------------------------------------------------------------------
# In-place fixes: locks, inputs that change, links


def test_a_file_being_fixed_by_another_run_is_refused(run, tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [A, A])
    before = _snapshot(tmp_path)
    with open(path, "rb") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)  # what a concurrent `fix --in-place` holds
        line = _error_line(run("fix", "t.jsonl", "--in-place"))
    assert "being rewritten by another curate run" in line
    assert _snapshot(tmp_path) == before


def test_two_concurrent_in_place_fixes_do_not_lose_work(tmp_path):
    spaced = conv("  Say hi. ", "Hi.")
    records = [conv(f"Question {i}?", f"Answer {i}.") for i in range(5000)]
    write_jsonl(tmp_path / "t.jsonl", [A, A, spaced, *records])
    commands = [["--select", "D001"], ["--select", "F010"]]  # one removes the duplicate, one strips spaces
    runs = [
        subprocess.Popen(
            [*CURATE, "fix", "t.jsonl", "--in-place", *c], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for c in commands
    ]
    outs = [(p.wait(timeout=300), p.stderr.read().decode()) for p in runs]
    assert all(rc == 0 or (rc == 2 and "another curate run" in err) for rc, err in outs), outs
    kept = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    if outs[0][0] == 0:  # each run that reported success has its work in the file
        assert kept.count(A) == 1 and (tmp_path / "t.rejects.jsonl").exists()
    if outs[1][0] == 0:
        assert spaced not in kept and conv("Say hi.", "Hi.") in kept
    assert kept[-5000:] == records


def test_input_changed_between_lint_and_write_is_refused(run, tmp_path, monkeypatch):
    import curate.fixer

    path = write_jsonl(tmp_path / "t.jsonl", [A, B, A])
    real_lint = curate.fixer.lint_paths

    def lint_then_edit(*args, **kwargs):
        result = real_lint(*args, **kwargs)
        write_jsonl(path, [B, A, A, B])  # an editor saves while curate works
        return result

    monkeypatch.setattr(curate.fixer, "lint_paths", lint_then_edit)
    edited = None
    line = _error_line(run("fix", "t.jsonl", "--in-place"))
    edited = (tmp_path / "t.jsonl").read_bytes()
    assert "t.jsonl: the file changed while being fixed; nothing written" in line
    assert [json.loads(x) for x in edited.splitlines()] == [B, A, A, B]  # the edit survives, nothing removed
    assert not (tmp_path / "t.rejects.jsonl").exists()


def test_in_place_through_a_symlink_edits_the_real_file(run, tmp_path):
    (tmp_path / "real").mkdir()
    write_jsonl(tmp_path / "real" / "data.jsonl", [A, A])
    (tmp_path / "link.jsonl").symlink_to("real/data.jsonl")
    result = run("fix", "link.jsonl", "--in-place")
    assert result.exit_code == 0, result.output
    assert os.path.islink(tmp_path / "link.jsonl")
    assert [json.loads(x) for x in (tmp_path / "real" / "data.jsonl").read_text().splitlines()] == [A]


def test_in_place_on_a_hard_linked_file_is_refused(run, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [A, A])
    os.link(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    before = _snapshot(tmp_path)
    assert "hard links" in _error_line(run("fix", "a.jsonl", "--in-place"))
    assert _snapshot(tmp_path) == before and os.stat(tmp_path / "a.jsonl").st_nlink == 2
    assert run("fix", "a.jsonl", "-o", "out.jsonl").exit_code == 0  # a copy is fine


# --------------------------------------------------------------------------
# Temporary files: hidden, locked while live, removed when stale


def test_temp_files_are_hidden_and_stale_ones_removed(tmp_path):
    target = tmp_path / "out.jsonl"
    stale = tmp_path / f".out.jsonl{atomic.TEMP_MARK}old"
    fresh = tmp_path / f".out.jsonl{atomic.TEMP_MARK}new"
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y")
    os.utime(stale, (time.time() - 3600,) * 2)
    with atomic.atomic_writer(str(target)) as f:
        names = {p.name for p in tmp_path.iterdir()} - {"out.jsonl", fresh.name}
        f.write("done\n")
    assert len(names) == 1 and next(iter(names)).startswith(f".out.jsonl{atomic.TEMP_MARK}")
    assert not stale.exists() and fresh.exists()  # a recent one may belong to a live run
    with open(fresh, "rb") as live:
        fcntl.flock(live.fileno(), fcntl.LOCK_EX)
        os.utime(fresh, (time.time() - 3600,) * 2)
        atomic.atomic_write_text(str(target), "again\n")
        assert fresh.exists()  # locked: a live writer's
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, "out.jsonl"])


def test_split_removes_stale_staging_folders(run, tmp_path, clean_records):
    write_jsonl(tmp_path / "data.jsonl", clean_records)
    stale = tmp_path / "out" / ".curate-split-killed"
    stale.mkdir(parents=True)
    (stale / "train.jsonl").write_text("leftover\n")
    os.utime(stale, (time.time() - 3600,) * 2)
    result = run("split", "data.jsonl", "-o", "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["eval.jsonl", "train.jsonl"]


def test_split_refuses_to_write_over_its_input(run, tmp_path, clean_records):
    (tmp_path / "out").mkdir()
    write_jsonl(tmp_path / "out" / "train.jsonl", clean_records)
    before = _snapshot(tmp_path / "out")
    assert "is also an input" in _error_line(run("split", "out/train.jsonl", "-o", "out"))
    assert _snapshot(tmp_path / "out") == before


def test_split_refuses_a_file_that_grows_while_it_is_read(run, tmp_path, clean_records, monkeypatch):
    import curate.splitting.files

    path = write_jsonl(tmp_path / "data.jsonl", clean_records)
    real = curate.splitting.files.plan_split

    def plan_then_grow(*args, **kwargs):
        with open(path, "a") as f:
            f.write(json.dumps(conv("appended", "while splitting")) + "\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(curate.splitting.files, "plan_split", plan_then_grow)
    line = _error_line(run("split", "data.jsonl", "-o", "out"))
    assert "data.jsonl changed while curate was reading it" in line
    assert not (tmp_path / "out" / "train.jsonl").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_directory(run, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [A])
    (tmp_path / "ro").mkdir(mode=0o555)
    assert "permission denied" in _error_line(run("lint", "a.jsonl", "-o", "ro/report.txt")).lower()


def test_unwritable_directory_is_one_error_line(run, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [A])
    line = _error_line(run("lint", "a.jsonl", "-o", "/proc/curate-report.txt"))
    assert line.startswith("error: /proc/curate-report.txt: cannot write")


def test_full_disk_leaves_the_original_and_no_temp_file(run, tmp_path, monkeypatch):
    write_jsonl(tmp_path / "t.jsonl", [A, A])
    before = _snapshot(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    assert "No space left on device" in _error_line(run("fix", "t.jsonl", "--in-place"))
    assert _snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["t.jsonl"]


# --------------------------------------------------------------------------
# Inputs: regular files or stdin, bounded lines, readable folders


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom", "/dev/null", "fifo.jsonl", "folder.jsonl"])
def test_non_regular_inputs_are_refused_without_blocking(tmp_path, path):
    os.mkfifo(tmp_path / "fifo.jsonl")  # no writer: opening it for reading would block
    (tmp_path / "folder.jsonl").mkdir()
    for command in (["lint", path], ["fix", path, "-o", "out.jsonl"], ["split", path, "-o", "out"]):
        if command[0] != "lint" and path == "folder.jsonl":
            continue  # a folder is a list of files to lint and fix
        done = subprocess.run(
            [*CURATE, *command], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, (command, done.stderr)
        assert "not a regular file" in done.stderr or "no dataset files" in done.stderr, done.stderr
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out").exists()


def test_lint_reads_stdin_from_dash(run, tmp_path):
    from click.testing import CliRunner

    from curate.cli import cli

    data = json.dumps(A) + "\n{broken\n"
    result = CliRunner().invoke(cli, ["lint", "-", "--select", "F001", "--no-progress"], input=data)
    assert result.exit_code == 1 and "-:2: F001" in result.output, result.output
    result = CliRunner().invoke(cli, ["lint", "-", "--certificate", str(tmp_path / "c.json")], input=data)
    assert "--certificate needs files" in _error_line(result)


def test_a_line_over_max_record_bytes_is_one_diagnostic_in_bounded_memory(tmp_path):
    huge = b'{"messages": [{"role": "user", "content": "' + b"x" * (40 << 20) + b'"}]}'
    path = tmp_path / "t.jsonl"
    path.write_bytes(json.dumps(A).encode() + b"\n" + huge + b"\r\n\n" + json.dumps(B).encode() + b"\n{bad\n")
    tracemalloc.start()
    try:
        result = lint_paths([str(path)], Config(select=["F001"], max_record_bytes=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20, peak  # the 40 MB line is never held
    assert [(d.line, d.code) for d in result.diagnostics] == [(2, "F001"), (5, "F001")]
    message = result.diagnostics[0].message
    assert f"record is {len(huge)} bytes, over the 1048576-byte limit (max-record-bytes)" in message
    assert result.records == 4 and result.files[0].size == path.stat().st_size


def test_a_record_over_the_default_limit_in_the_cli(run, tmp_path):
    big = conv("q " * (5 << 20), "a")
    write_jsonl(tmp_path / "t.jsonl", [A, big])
    result = run("lint", "t.jsonl", "--select", "F001", "--no-progress")
    assert result.exit_code == 1 and "t.jsonl:2: F001" in result.output and "8388608-byte limit" in result.output
    (tmp_path / "curate.toml").write_text("max-record-bytes = 16777216\n")
    result = run("lint", "t.jsonl", "--select", "F001", "--no-progress")
    assert result.exit_code == 0, result.output


def test_fix_refuses_a_record_it_cannot_read_whole(run, tmp_path):
    (tmp_path / "curate.toml").write_text("max-record-bytes = 2048\n")
    write_jsonl(tmp_path / "t.jsonl", [A, conv("x" * 5000, "y"), A])
    before = _snapshot(tmp_path)
    line = _error_line(run("fix", "t.jsonl", "--in-place"))
    assert "t.jsonl:2: record is" in line and "raise max-record-bytes" in line
    assert _snapshot(tmp_path) == before


def test_reader_refuses_oversize_records_unless_asked_to_report(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"x" * 5000 + b"\n")
    with pytest.raises(CurateError, match="over the 1024-byte limit"):
        list(read_file(FileInfo(str(path), "train", ""), None, 0, 1024))
    (rec,) = read_file(FileInfo(str(path), "train", ""), None, 0, 1024, report_oversize=True)
    assert rec.line == 1 and rec.raw == b"" and "5000 bytes" in rec.error


def test_gzip_corrupt_mid_stream_is_an_error(run, tmp_path):
    lines = b"".join(json.dumps(conv(f"q{i}", f"a{i}")).encode() + b"\n" for i in range(20000))
    packed = gzip.compress(lines, mtime=0)
    for pos in range(len(packed) // 2, len(packed)):  # a flipped byte that breaks the deflate stream itself
        data = bytearray(packed)
        data[pos] ^= 0x55
        try:
            gzip.decompress(bytes(data))
        except zlib.error:
            break
        except (OSError, EOFError):
            continue
    (tmp_path / "t.jsonl.gz").write_bytes(bytes(data))
    line = _error_line(run("lint", "t.jsonl.gz", "--no-progress"))
    assert line.startswith("error: t.jsonl.gz: cannot read")


def test_unreadable_subfolder_is_an_error(run, tmp_path, monkeypatch):
    (tmp_path / "ds" / "locked").mkdir(parents=True)
    write_jsonl(tmp_path / "ds" / "a.jsonl", [A])
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    line = _error_line(run("lint", "ds", "--no-progress"))
    assert "locked: cannot read directory: Permission denied" in line


# --------------------------------------------------------------------------
# Standard output closed or full


def test_a_reader_that_goes_away_is_no_traceback(tmp_path, clean_records):
    write_jsonl(tmp_path / "t.jsonl", clean_records * 50)
    proc = subprocess.Popen(
        [*CURATE, "lint", "t.jsonl", "--no-progress"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # `| head -0`: a broken pipe ends the output quietly, with the lint's own exit code
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == "", err


def test_full_stdout_is_one_error_line(tmp_path, clean_records):
    write_jsonl(tmp_path / "t.jsonl", clean_records)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*CURATE, "lint", "t.jsonl", "--no-progress"],
            cwd=tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr == "error: cannot write the report to stdout: No space left on device (use -o FILE)\n"


def test_train_refuses_a_fifo_as_data(tmp_path):
    os.mkfifo(tmp_path / "train.jsonl")  # the gate and the trainer could read different bytes from it
    done = subprocess.run(
        [*CURATE, "train", "--model", "m", "--data", "train.jsonl", "--output", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "a FIFO, not a regular file" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()
