"""Q006's median is numpy's, without the NaN check that imports numpy.ma."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.rules import quality


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=40))
def test_the_median_is_numpys(values):
    array = np.array(values, dtype=np.float64)
    assert quality.median(array) == float(np.median(array))


def test_the_median_does_not_import_numpy_ma():
    code = (
        "import sys; import numpy as np; from curate.rules import quality;"
        " quality.median(np.arange(9.0)); print('numpy.ma' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
