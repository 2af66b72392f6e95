"""Inline numba kernels on one 3-vector at a time, shared by the cylinder kernels.

numba inlines them (``inline="always"``) into the loops of ``cylinder_axes``,
``cylinder_patches`` and ``circle_fit``; allocating a (3,) array per edge cost more than the
arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FloatArray = np.ndarray


@njit(cache=True, nogil=True, inline="always")
def cross3(a: FloatArray, b: FloatArray) -> tuple[float, float, float]:
    """a x b of two (3,) vectors (numpy's row-wise formula, term by term)."""
    return (
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    )


@njit(cache=True, nogil=True, inline="always")
def canonical3(x: float, y: float, z: float) -> tuple[float, float, float]:
    """(x, y, z) flipped so its first largest component is positive (``canonical_axes``)."""
    ax, ay, az = abs(x), abs(y), abs(z)
    largest = x if (ax >= ay and ax >= az) else (y if ay >= az else z)
    sign = -1.0 if largest < 0 else 1.0
    return x * sign, y * sign, z * sign


@njit(cache=True, nogil=True, inline="always")
def extent_along(tri: FloatArray, d: tuple[float, float, float]) -> float:
    """Extent of a (3, 3) triangle along direction d (max - min of its corners' d . p)."""
    p0 = tri[0, 0] * d[0] + tri[0, 1] * d[1] + tri[0, 2] * d[2]
    p1 = tri[1, 0] * d[0] + tri[1, 1] * d[1] + tri[1, 2] * d[2]
    p2 = tri[2, 0] * d[0] + tri[2, 1] * d[1] + tri[2, 2] * d[2]
    return max(max(p0, p1), p2) - min(min(p0, p1), p2)
