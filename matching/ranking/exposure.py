"""Exposure budget: shops that already got more than ``slack`` times the mean exposure of the
candidates are pushed down: ``score - strength * log(exposure / (slack * mean))``, i.e. a
multiplicative penalty on ``exp(score)`` (after Singh & Joachims 2018, fairness of exposure), so
a few shops do not take every first place.
"""

from __future__ import annotations

import numpy as np


class ExposureBudget:
    """Decayed exposure per shop and the penalty for shops over their share.

    Each ranking shown adds ``1 / log2(2 + rank)`` to the shops in its first ``k`` places (the
    attention a position gets); older exposure decays by ``0.5 ** (1 / half_life)`` per recorded
    ranking. Among a request's candidates, a shop with exposure above ``slack`` times their mean
    loses ``strength * log(exposure / (slack * mean))`` from its score.
    """

    def __init__(
        self,
        n_shops: int,
        *,
        k: int = 5,
        half_life: float = 200.0,
        strength: float = 1.0,
        slack: float = 1.5,
    ) -> None:
        self.k = k
        self.half_life = half_life
        self.strength = strength
        self.slack = slack
        self.exposure = np.zeros(n_shops)
        self._decay = 0.5 ** (1.0 / half_life)

    def penalty(self, idx: np.ndarray) -> np.ndarray:
        e = self.exposure[idx]
        mean = e.mean() if len(e) else 0.0
        if mean <= 0:
            return np.zeros(len(idx))
        over = e / (self.slack * mean)
        return self.strength * np.log(np.maximum(over, 1.0))

    def record(self, shown: np.ndarray) -> None:
        """Add the exposure of one shown ranking (index positions, best first)."""
        self.exposure *= self._decay
        top = np.asarray(shown)[: self.k]
        self.exposure[top] += 1.0 / np.log2(2.0 + np.arange(len(top)))
