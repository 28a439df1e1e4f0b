"""Third-party noise during training: progress stays one bar, details go to the report.

Deprecation and future warnings from the libraries are dropped; library
log records below ERROR are silenced (transformers' and bitsandbytes' notes);
any other warning is printed once, as one ``warning:`` line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings

LIBRARIES = ("transformers", "peft", "accelerate", "bitsandbytes", "torch", "datasets", "huggingface_hub")


@contextlib.contextmanager
def quiet_third_parties():
    """Silence library chatter for the duration of the block; real warnings are said once each."""
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            return
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        if text not in seen:
            seen.add(text)
            print(f"warning: {text}", file=sys.stderr)

    loggers = [logging.getLogger(name) for name in LIBRARIES]
    levels = [logger.level for logger in loggers]
    verbosity = _transformers_verbosity()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        _set_transformers_verbosity(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)
            if verbosity is not None:
                _set_transformers_verbosity(verbosity)


def _transformers_verbosity():
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return None
    return hf_logging.get_verbosity()


def _set_transformers_verbosity(level: int) -> None:
    """Set transformers' log level; its own progress bars (loading, writing shards) are shown only below ERROR."""
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity(level)
        if level >= logging.ERROR:
            hf_logging.disable_progress_bar()
        else:
            hf_logging.enable_progress_bar()
