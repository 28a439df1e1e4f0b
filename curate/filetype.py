"""What a dataset file is, from its first bytes as well as its name; unsupported files are refused.

A file is a container (JSON lines, a JSON array, Parquet, Arrow IPC file or
stream, CSV, TSV), possibly inside a compressed stream (gzip, bz2, xz, zstd).
Content wins over the suffix: a Parquet file named `.jsonl` is read as
Parquet, and a zip archive or a binary blob is one clear error, never lines of
text.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from dataclasses import dataclass

from curate.errors import CurateError

SNIFF_BYTES = 8192
TABULAR = ("parquet", "arrow", "arrow-stream", "csv", "tsv")
TEXT_BASES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
BINARY_SUFFIXES = (".parquet", ".arrow", ".feather")
JSON_SUFFIXES = tuple(".json" + c for c in ("", *COMPRESSIONS))
DATASET_SUFFIXES = BINARY_SUFFIXES + tuple(b + c for b in TEXT_BASES for c in ("", *COMPRESSIONS))
SUPPORTED = (
    "JSONL/NDJSON and JSON arrays (plain, or gzip, bz2, xz or zstd compressed), Parquet, "
    "Arrow IPC (file or stream), CSV, TSV, and `datasets` save_to_disk folders"
)
MAGIC = [  # long enough that no line of text starts with one (Parquet also ends with its magic)
    (b"ARROW1\x00\x00", "arrow"),
    (b"\xff\xff\xff\xff", "arrow-stream"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
]
BZ2_MAGIC = re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)")
REFUSED_MAGIC = [
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x93NUMPY", "a NumPy array"),
    (b"SQLite format 3\x00", "an SQLite database"),
]
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
EXTRAS = {"pyarrow": "parquet", "zstandard": "zstd"}


@dataclass(frozen=True)
class FileKind:
    """A file's container format and the compression around it (None when plain)."""

    container: str
    compression: str | None = None

    @property
    def tabular(self) -> bool:
        return self.container in TABULAR

    def describe(self) -> str:
        names = {
            "jsonl": "JSON lines",
            "json": "JSON",
            "parquet": "Parquet",
            "arrow": "Arrow IPC file",
            "arrow-stream": "Arrow IPC stream",
            "csv": "CSV",
            "tsv": "TSV",
        }
        return names[self.container] + (f" ({self.compression}-compressed)" if self.compression else "")


def require(module: str):
    """Import an optional dependency, or fail with one line naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise CurateError(
            f"this file needs the `{module}` package: pip install 'curate-sft[{EXTRAS[module]}]'"
        ) from None


def _magic(head: bytes, table) -> str | None:
    return next((name for magic, name in table if head.startswith(magic)), None)


def _format_magic(head: bytes) -> str | None:
    """The Arrow container or compression the bytes start with, if any."""
    return "bz2" if BZ2_MAGIC.match(head) else _magic(head, MAGIC)


def _is_parquet(path: str, head: bytes) -> bool:
    """Parquet starts and ends with `PAR1` (a text line may start with it, a file rarely ends with it too)."""
    if not head.startswith(b"PAR1"):
        return False
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return f.read(4) == b"PAR1" and f.tell() >= 12


def _base_name(path: str) -> str:
    """The file name without a compression suffix."""
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    return stem if ext in COMPRESSIONS else name


def _text_container(path: str) -> str:
    name = _base_name(path)
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".tsv"):
        return "tsv"
    return "json" if name.endswith(".json") else "jsonl"


def looks_binary(head: bytes) -> bool:
    """NUL-heavy or mostly undecodable bytes: a text line may hold a stray NUL or a bad byte (rule F002),
    a binary file holds many."""
    if head.count(0) * 10 > len(head):
        return True
    text = head.decode("utf-8", errors="replace")
    bad = sum(ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f") for ch in text)
    return bad * 10 > len(text) * 3


def refuse(path: str, what: str):
    raise CurateError(f"{path}: unsupported file format ({what}); curate reads {SUPPORTED}")


def sniff(path: str) -> FileKind | None:
    """The kind of a regular file, from its first bytes and its name; None for non-regular files (left to the reader)."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
        if _is_parquet(path, head):
            return FileKind("parquet")
    except OSError as exc:
        raise CurateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head.startswith(LFS_POINTER):
        raise CurateError(f"{path}: a Git LFS pointer file, not the data itself; fetch the data with `git lfs pull`")
    refused = _magic(head, REFUSED_MAGIC)
    if refused:
        refuse(path, refused)
    found = _format_magic(head)
    if found in TABULAR:
        return FileKind(found)
    if found:
        return (
            FileKind(_text_container(path), found)
            if _inner_is_text(path, found)
            else refuse(path, f"{found}-compressed binary data")
        )
    if os.path.basename(path).lower().endswith(BINARY_SUFFIXES):
        refuse(path, f"named {os.path.splitext(path)[1]} but its content is not Parquet or Arrow")
    if looks_binary(head):
        refuse(path, "binary data")
    return FileKind(_text_container(path))


def _inner_is_text(path: str, compression: str) -> bool:
    """Whether the start of a compressed stream is text (a compressed tar or Parquet file is not)."""
    try:
        with open(path, "rb") as raw:
            head = decompressed(raw, compression).read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:  # the decoders' errors (lzma and zstd ones made OSError)
        raise CurateError(f"{path}: cannot read {compression} stream: {exc}") from None
    return not looks_binary(head) and _format_magic(head) is None and _magic(head, REFUSED_MAGIC) is None


def decompressed(stream, compression: str):
    """A readable, line-iterable binary stream of the decompressed bytes of `stream`."""
    if compression == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if compression == "bz2":
        import bz2  # imported here, as lzma below: most runs read no bz2 or xz file

        return bz2.BZ2File(stream, "rb")
    if compression == "xz":
        import lzma

        return io.BufferedReader(_OSErrors(lzma.LZMAFile(stream, "rb")))
    return io.BufferedReader(_Zstd(stream))


def reopened(kind: FileKind | None, path: str, hashed, stream):
    """The right decompressed stream for `kind`, replacing the one the reader chose by suffix (gzip for
    `.gz`, as `written_compression` says) when the content says otherwise."""
    if kind is None or kind.compression == written_compression(path):
        return stream
    return decompressed(hashed, kind.compression) if kind.compression else hashed


class _OSErrors(io.RawIOBase):
    """An xz reader that raises OSError for corrupt data, as gzip and bz2 do (lzma raises LZMAError)."""

    def __init__(self, reader):
        self.reader = reader

    def readable(self):
        return True

    def readinto(self, buffer):
        import lzma

        try:
            return self.reader.readinto(buffer)
        except lzma.LZMAError as exc:
            raise OSError(f"corrupt compressed data: {exc}") from None


class _Zstd(io.RawIOBase):
    """zstd frames one after another, like `zstd -d`: a stream cut inside a frame is an EOFError, as in gzip
    (zstandard's own stream reader just stops there, silently losing the rest)."""

    def __init__(self, source):
        self.zstandard = require("zstandard")
        self.source, self.frame, self.in_frame = source, self._new_frame(), False
        self.pending, self.pos = b"", 0

    def _new_frame(self):
        return self.zstandard.ZstdDecompressor().decompressobj()

    def readable(self):
        return True

    def readinto(self, buffer):
        while self.pos == len(self.pending):
            chunk = self.source.read(1 << 16)
            if not chunk:
                if self.in_frame:
                    raise EOFError("zstd stream ended before the end of its frame")
                return 0
            self.pending, self.pos = self._feed(chunk), 0
        n = min(len(buffer), len(self.pending) - self.pos)
        buffer[:n] = self.pending[self.pos : self.pos + n]
        self.pos += n
        return n

    def _feed(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            self.in_frame = True
            try:
                out.append(self.frame.decompress(chunk))
            except self.zstandard.ZstdError as exc:
                raise OSError(f"corrupt zstd data: {exc}") from None
            if not self.frame.eof:
                break
            chunk, self.frame, self.in_frame = self.frame.unused_data, self._new_frame(), False
        return b"".join(out)


def written_compression(path: str) -> str | None:
    """What `curate fix` writes to a target path: gzip for `.gz`, else plain."""
    return "gzip" if path.lower().endswith(".gz") else None


def check_rewritable(path: str, target: str | None, command: str) -> None:
    """Refuse a fix (to `target`) or a split (no target) that could not write `path`'s format back exactly.

    `curate fix` writes JSON lines, JSON arrays and gzip, and Parquet from Parquet.
    """
    kind = sniff(path)
    if kind is None:
        return
    in_place = target is not None and os.path.abspath(target) == os.path.abspath(path)
    if kind.container == "parquet" and (in_place or str(target).lower().endswith(".parquet")):
        return
    if kind.tabular and command != "fix":
        raise CurateError(f"{path}: `curate {command}` does not read {kind.describe()} yet; convert it to JSONL first")
    if kind.container == "parquet":
        raise CurateError(
            f"{path}: `curate fix` writes Parquet back only as Parquet: use --in-place or -o FILE.parquet"
        )
    if kind.tabular:
        raise CurateError(
            f"{path}: `curate fix` cannot write {kind.describe()} back; "
            f"lint it as it is, or convert it to JSONL or Parquet first"
        )
    if in_place and kind.compression != written_compression(path):
        raise CurateError(
            f"{path}: `curate {command}` cannot rewrite {kind.describe()} in place "
            f"(it writes plain or .gz JSON lines); use --output FILE.jsonl"
        )
    if target is not None and os.path.splitext(target.lower())[1] in BINARY_SUFFIXES + (
        ".csv",
        ".tsv",
        ".bz2",
        ".xz",
        ".zst",
    ):
        raise CurateError(
            f"{target}: `curate {command}` writes JSON lines, JSON arrays or gzip (and Parquet from "
            f"Parquet); choose a .jsonl, .json or .gz output"
        )
