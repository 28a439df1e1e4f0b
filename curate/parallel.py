"""An ordered map across worker processes with a bounded number of items in flight."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator


def ordered_map(fn: Callable, items: Iterable, jobs: int) -> Iterator:
    """``map(fn, items)`` in order: in this process, or across ``jobs`` processes with ``2 * jobs`` in flight."""
    if jobs <= 1:
        yield from map(fn, items)
        return
    from concurrent.futures import ProcessPoolExecutor  # only when workers run: slow to import

    with ProcessPoolExecutor(jobs) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
