"""Warm the engine up in a fresh process: the geometry's compiled kernels load from numba's cache
on first use, so a server measures two generated parts before its first upload.

Its own module because it needs both ``quote.corpus`` (the parts) and ``quote.analysis`` (the
measuring), and ``quote.corpus`` already builds on ``quote.analysis``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from quote.analysis import analyze_part
from quote.corpus import generate_part


def warm_up() -> None:
    """Analyse two small generated parts (a block and a flange) and discard the result.

    The geometry's compiled kernels load from numba's cache on first use (~0.3 s per process;
    a fresh install compiles them once, ~30 s): a server calls this at start so its first
    upload does not pay for it.
    """
    with tempfile.TemporaryDirectory(prefix="mitsumori-warm-") as folder:
        for index, family in enumerate(("block", "flange")):
            path = Path(folder) / f"{family}.stl"
            generate_part(index, 0, family=family).export(path)
            analyze_part(path)
