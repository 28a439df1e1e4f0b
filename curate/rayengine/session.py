"""Ray for ``--engine ray``: the import, with one clear error when the extra is missing, and the connection."""

from __future__ import annotations

import logging
import os

from curate.errors import CurateError

EXTRA = "curate-sft[ray]"


def require_ray():
    """The ``ray`` module with Ray Data, or a CurateError naming the extra that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data ships in ray[data])
    except ImportError:
        raise CurateError(f"--engine ray needs Ray Data: pip install '{EXTRA}'") from None
    return ray


def connect(address: str | None, jobs: int):
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), else start a local Ray with ``jobs`` CPUs.

    An already initialised Ray is reused. Ray's progress bars and logs are silenced so that the
    output is curate's alone; record order is preserved through every stage.
    """
    ray = require_ray()
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        kwargs = {"num_cpus": jobs} if address is None else {"address": address}
        try:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR, **kwargs)
        except ConnectionError as exc:
            raise CurateError(f"cannot join the Ray cluster at {address}: {exc}") from None
    _quiet(ray.data.DataContext.get_current())
    return ray


def _quiet(ctx) -> None:
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.execution_options.preserve_order = True
    if hasattr(ctx, "enable_operator_progress_bars"):
        ctx.enable_operator_progress_bars = False
    if hasattr(ctx, "verbose_progress"):
        ctx.verbose_progress = False
