"""`curate split` on files: read, plan, write each record's bytes to its split, lint the outputs, settle.

Records without a conversation (not JSON, not an object, no message list)
cannot be placed: ``split_file`` refuses them with their lines rather than
drop or misplace them. Outputs replace earlier ones only when complete.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from curate.atomic import atomic_writer, remove_stale
from curate.config import Config
from curate.engine import lint_paths
from curate.errors import CurateError
from curate.locks import StableInputs
from curate.outputs import check_outputs
from curate.reader import FileInfo, read_file
from curate.split_names import OUTPUT_SPLITS
from curate.splitting.features import SplitOptions, read_features
from curate.splitting.plan import SplitPlan, plan_split

LEAK_CODES = ("L001", "L002", "L003")
STAGING_PREFIX = ".curate-split-"


def _one_line(raw: bytes) -> bytes:
    """A JSON array element on one line: raw newlines can only be whitespace between tokens."""
    return raw.replace(b"\r\n", b" ").replace(b"\n", b" ").replace(b"\r", b" ")


@dataclass
class SplitReport:
    """What ``split_file`` did."""

    path: str
    plan: SplitPlan
    outputs: list[str]
    lint_moved: int = 0
    stale: list[str] = field(default_factory=list)

    def describe(self) -> str:
        plan = self.plan
        n = len(plan.labels)
        lines = [
            f"Split {self.path}: {n} records in {len(plan.sizes)} clusters "
            f"(largest {int(plan.sizes.max(initial=0))} records), seed {plan.seed}."
        ]
        for _name, out, idx, target in zip(plan.names, self.outputs, plan.indices(), plan.targets):
            share = len(idx) / n if n else 0.0
            lines.append(f"  {out}: {len(idx)} records ({share:.1%}, target {target})")
        lines.append(
            f"Verification moved {plan.moved_clusters} held-out clusters ({plan.moved_records} records) "
            f"to train, {self.lint_moved} of them on the lint of the outputs; "
            f"{', '.join(LEAK_CODES)} on the outputs: clean."
        )
        for name, idx, target in zip(plan.names[1:], plan.indices()[1:], plan.targets[1:]):
            if len(idx) < target / 2:
                lines.append(
                    f"warning: {name} has {len(idx)} of its {target} target records: the rest of the data "
                    f"forms clusters too big to hold out"
                )
        lines += [f"warning: {p} is from an earlier split and was left as is" for p in self.stale]
        return "\n".join(lines)


def _lint_leaks(paths: list[str], plan: SplitPlan, config, jobs: int) -> np.ndarray:
    """Clusters of held-out records that L001-L003 report on the written files."""
    cfg = Config(select=list(LEAK_CODES), rules=config.rules, format=config.format)
    result = lint_paths(paths, cfg, dict(zip(paths, plan.names)), (), jobs)
    held = {p: idx for p, idx in zip(paths[1:], plan.indices()[1:])}
    bad = [
        held[loc[0]][loc[1] - 1]
        for d in result.diagnostics
        for loc in ((d.path, d.line), *d.related)
        if loc[0] in held and 0 < loc[1] <= len(held[loc[0]])
    ]
    return plan.labels[np.asarray(bad, dtype=np.int64)]


def split_file(
    path: str, output_dir: str, ratios: Sequence[float], seed: int = 0, config: Config | None = None, jobs: int = 1
) -> SplitReport:
    """Split a dataset file into ``output_dir``; the outputs replace any earlier ones only when complete.

    ``config`` gives the record format and the L002/L003 options (thresholds, ``num_perm``, ``min_words``).
    The input is locked (shared) for the run and must not change while it is read: if its size, times or
    bytes differ at the end, nothing is written.
    """
    config = config or Config()
    if not os.path.lexists(path):
        raise CurateError(f"{path}: no such file")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise CurateError(f"{output_dir}: exists and is not a directory")
    outputs = [os.path.join(output_dir, f"{name}.jsonl") for name in OUTPUT_SPLITS[: len(ratios)]]
    check_outputs([path], [("output", p) for p in outputs])
    with StableInputs([path], exclusive=False) as held:
        return _split_held(path, output_dir, outputs, ratios, seed, config, jobs, held)


def _split_held(path, output_dir, outputs, ratios, seed, config, jobs, held) -> SplitReport:
    fmt = config.format
    opts = SplitOptions.from_config(config)

    def read():
        return read_features(path, fmt, opts, jobs, config.max_record_bytes)

    plan = plan_split(read(), ratios, seed, opts)
    try:
        os.makedirs(output_dir, exist_ok=True)
        remove_stale(os.path.join(output_dir, STAGING_PREFIX + "*"))  # left by killed runs
        staging = tempfile.mkdtemp(dir=output_dir, prefix=STAGING_PREFIX)
    except OSError as exc:
        raise CurateError(f"{output_dir}: cannot write: {exc.strerror or exc}") from None
    lock = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # marks the folder as live for other runs' cleanup
        staged = [os.path.join(staging, os.path.basename(p)) for p in outputs]
        lint_moved = 0
        while True:
            _write(path, fmt, plan.record_splits(), staged, config.max_record_bytes)
            plan.feats = None  # the lint's own features take their place (peak memory); read again if needed
            moved = plan.move_to_train(_lint_leaks(staged, plan, config, jobs))
            if not moved:
                break
            lint_moved += moved
            plan.feats = read()
            plan.settle()
        held.check_unchanged()
        for src, dst in zip(staged, outputs):
            os.replace(src, dst)
    finally:
        os.close(lock)
        shutil.rmtree(staging, ignore_errors=True)
    stale = [os.path.join(output_dir, f"{n}.jsonl") for n in OUTPUT_SPLITS[len(ratios) :]]
    return SplitReport(path, plan, outputs, lint_moved, [p for p in stale if os.path.exists(p)])


def _write(path: str, fmt: str | None, splits: np.ndarray, outputs: list[str], max_record_bytes: int) -> None:
    """Each record's bytes, unchanged (JSON array elements joined onto one line), to its split's file."""
    with ExitStack() as stack:
        files = [stack.enter_context(atomic_writer(p, "wb")) for p in outputs]
        for rec in read_file(FileInfo(path, "unsplit", ""), fmt, 0, max_record_bytes):
            if rec.index >= len(splits):
                raise CurateError(
                    f"{path} changed while curate was reading it (it has more records than on the "
                    f"first read); nothing was written: run again"
                )
            raw = rec.raw if b"\n" not in rec.raw and b"\r" not in rec.raw else _one_line(rec.raw)
            files[splits[rec.index]].write(raw + b"\n")
