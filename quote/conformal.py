"""Conformal prediction intervals: the residual quantiles added to a point prediction."""

from __future__ import annotations

import numpy as np


def conformal_quantiles(residuals: np.ndarray, coverage: float) -> tuple[float, float]:
    """Lower and upper residual quantiles for a two-sided interval of ``coverage``.

    Finite-sample corrected ranks: the ceil((n+1)(1-a/2))-th smallest residual for the upper end
    (capped at the largest when n is small) and symmetrically for the lower end.
    """
    r = np.sort(residuals)
    n = len(r)
    if n == 0:
        return 0.0, 0.0
    alpha = 1.0 - coverage
    hi_rank = int(np.ceil((n + 1) * (1.0 - alpha / 2.0)))
    lo_rank = int(np.floor((n + 1) * (alpha / 2.0)))
    hi = r[min(hi_rank, n) - 1]
    lo = r[max(lo_rank, 1) - 1]
    return float(min(lo, 0.0)), float(max(hi, 0.0))
