"""A growable typed column, the unit of the cross-record column store."""

from __future__ import annotations

from array import array

import numpy as np


class Column:
    """A growable typed column (an ``array``; reallocated in place where the allocator can)."""

    def __init__(self, dtype, width: int | None = None):
        self.dtype = np.dtype(dtype)
        self.width = width  # None: one value per row; else rows of `width` values
        code = {1: "b", 4: "I", 8: "q"}[self.dtype.itemsize]
        self.data = array(code)

    def extend(self, values) -> None:
        self.data.frombytes(np.ascontiguousarray(values, dtype=self.dtype).tobytes())

    def view(self) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=self.dtype) if len(self.data) else np.empty(0, self.dtype)
        return out if self.width is None else out.reshape(-1, self.width)


def offsets_of(sizes: np.ndarray) -> np.ndarray:
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out
