"""3 x 3 linear solves and determinants inside numba kernels, rounded exactly as ``np.linalg``.

``np.linalg.solve`` and ``np.linalg.det`` cost 4-6 us a call even for one 3 x 3 matrix, more
than a kernel's whole work on a small part; these give the same bits inside a kernel. numpy
calls LAPACK's ``dgesv`` / ``dgetrf`` from its OpenBLAS, whose ``getf2`` is left-looking (each
column is brought up to date by dot products with the finished ones, the pivot's reciprocal
scales the column below it) and whose triangular solves update with one product at a time (no
fused multiply-adds); ``det`` is ``sign * exp(sum(log|u_ii|))`` from the same factors, with the
C library's log and exp. Checked against numpy 2.4 (OpenBLAS 0.3.31, x86-64) on 40,000 matrices,
Kasa normal equations and random ones, with no differing bit (``tests/quote/test_numpy_linalg3.py``
keeps checking it). After editing this module, delete the ``__pycache__/*.nb*`` files of the
modules that call it: numba checks only a kernel's own source file for changes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def lu3(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """LU factors of a (3, 3) matrix with partial pivoting, as LAPACK ``dgetrf`` returns them.

    Returns
    -------
    lu : (3, 3) float
        Unit lower factor below the diagonal, upper factor on and above it.
    pivots : (3,) int
        Row swapped with row j at step j (0-based).
    info : int
        0, or 1 + the first step whose pivot is 0 (the matrix is singular).
    """
    a = m.copy()
    piv = np.empty(3, dtype=np.int64)
    info = 0
    for j in range(3):
        for i in range(j):
            p = piv[i]
            if p != i:
                a[i, j], a[p, j] = a[p, j], a[i, j]
        if j == 2:
            a[1, 2] = a[1, 2] - a[1, 0] * a[0, 2]
        if j >= 1:
            for i in range(j, 3):
                s = a[i, 0] * a[0, j]
                if j == 2:
                    s = s + a[i, 1] * a[1, j]
                a[i, j] = a[i, j] - s
        jp = j
        for i in range(j + 1, 3):
            if abs(a[i, j]) > abs(a[jp, j]):
                jp = i
        piv[j] = jp
        pivot = a[jp, j]
        if pivot != 0.0:
            if jp != j:
                for k in range(j + 1):
                    a[j, k], a[jp, k] = a[jp, k], a[j, k]
            r = 1.0 / pivot
            for i in range(j + 1, 3):
                a[i, j] = a[i, j] * r
        elif info == 0:
            info = j + 1
    return a, piv, info


@njit(cache=True, nogil=True)
def det3(m: np.ndarray) -> float:
    """``np.linalg.det`` of a (3, 3) matrix."""
    a, piv, info = lu3(m)
    if info > 0:
        return 0.0
    sign = 1.0
    for i in range(3):
        if piv[i] != i:
            sign = -sign
    logdet = 0.0
    for i in range(3):
        d = a[i, i]
        if d < 0:
            sign = -sign
            d = -d
        logdet += math.log(d)
    return sign * math.exp(logdet)


@njit(cache=True, nogil=True)
def solve3(m: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``np.linalg.solve`` of a (3, 3) system with a (3,) right-hand side (non-singular)."""
    a, piv, _ = lu3(m)
    b = rhs.copy()
    for i in range(3):
        p = piv[i]
        if p != i:
            b[i], b[p] = b[p], b[i]
    for i in range(3):
        for k in range(i + 1, 3):
            b[k] = b[k] + (-b[i]) * a[k, i]
    for i in range(2, -1, -1):
        b[i] = b[i] / a[i, i]
        for k in range(i):
            b[k] = b[k] + (-b[i]) * a[k, i]
    return b
