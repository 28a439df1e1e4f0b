"""Several ``--data`` files, each with an optional weight, mixed into one training set.

``--data FILE[:WEIGHT]`` may be repeated. A weight multiplies how often the file's
examples are seen per epoch: ``2`` repeats every example twice, ``0.5`` keeps a
seeded half, ``1.5`` repeats every example once and a seeded half twice. Weights
apply after the held-out split and after encoding, so repeated examples never
reach the eval set and an excluded example is reported once.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TypeVar

import click

T = TypeVar("T")  # an example or an encoded example: anything with the ``path`` it came from


@dataclass(frozen=True)
class DataFile:
    """One ``--data`` file and its sampling weight."""

    path: str
    weight: float = 1.0


class DataFileParam(click.ParamType):
    """``FILE`` or ``FILE:WEIGHT`` (a path that exists as written always wins over a weight suffix)."""

    name = "FILE[:WEIGHT]"

    def convert(self, value, param, ctx) -> DataFile:
        if isinstance(value, DataFile):
            return value
        path, weight = value, 1.0
        if not os.path.exists(value) and ":" in value:
            head, _, tail = value.rpartition(":")
            try:
                path, weight = head, float(tail)
            except ValueError:
                self.fail(f"{value!r}: the weight after ':' must be a number", param, ctx)
            if not weight > 0 or weight != weight or weight == float("inf"):
                self.fail(f"{value!r}: the weight must be a number above 0", param, ctx)
        if not os.path.exists(path):
            self.fail(f"file {path!r} does not exist", param, ctx)
        if os.path.isdir(path):
            self.fail(f"file {path!r} is a directory", param, ctx)
        return DataFile(path, weight)


def weighted(examples: list[T], files: list[DataFile], seed: int) -> list[T]:
    """``examples`` with each file's share repeated or subsampled by its weight; deterministic with ``seed``.

    Files of weight 1 are kept as they are, in order; the others' examples follow them.
    """
    weights = {f.path: f.weight for f in files}
    rng = random.Random(seed)
    out = [e for e in examples if weights.get(e.path, 1.0) == 1.0]  # type: ignore[attr-defined]
    for f in files:
        if f.weight == 1.0:
            continue
        own = [e for e in examples if e.path == f.path]  # type: ignore[attr-defined]
        whole, fraction = int(f.weight), f.weight - int(f.weight)
        out += own * whole
        if fraction and own:
            out += rng.sample(own, max(1, round(fraction * len(own))))
    return out
