"""Range checks for rule options: one table, one clear error per bad value."""

from __future__ import annotations

import math

from curate.errors import CurateError

# option name -> (lowest, highest, lowest allowed itself); the same name means the same thing in every rule
BOUNDS = {
    "threshold": (0.0, 1.0, False),
    "majority": (0.0, 1.0, False),
    "num_perm": (16, 1024, True),
    "max_facts": (1, 64, True),
    "min_words": (1, 10_000, True),
    "ngram": (1, 100, True),
    "max_df": (1, 10**9, True),
    "min_examples": (1, 10**12, True),
    "max_tokens": (1, 10**9, True),
    "min_records": (1, 10**12, True),
    "min_repeats": (2, 10**6, True),
    "min_line_repeats": (2, 10**6, True),
    "max_period": (1, 10**6, True),
    "k": (0.0, 1000.0, False),
}


def check_option(code: str, name: str, value, default, source: str):
    """`value` checked against the default's type and the option's range; returns it (ints as floats where due)."""
    where = f"{source}: {code}.{name}"
    if isinstance(default, bool) or default is None:
        if default is not None and not isinstance(value, bool):
            raise CurateError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        return _number(where, name, value, default)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CurateError(f"{where} must be a list of strings, got {value!r}")
        return value
    if not isinstance(value, type(default)):
        raise CurateError(f"{where} must be {type(default).__name__}, got {value!r}")
    return value


def _number(where: str, name: str, value, default):
    want_int = isinstance(default, int)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (want_int and not isinstance(value, int)):
        raise CurateError(f"{where} must be {'an integer' if want_int else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise CurateError(f"{where} must be a finite number, got {value!r}")
    if name in BOUNDS:
        low, high, low_inclusive = BOUNDS[name]
        above = value >= low if low_inclusive else value > low
        if not above or value > high:
            opening = "[" if low_inclusive else "("
            raise CurateError(f"{where} must be in {opening}{low}, {high}], got {value!r}")
    elif value < 0:
        raise CurateError(f"{where} must not be negative, got {value!r}")
    return value if want_int else float(value)
