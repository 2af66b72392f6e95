"""The kernels' dot products round exactly as numpy's einsum and matmul do."""

from __future__ import annotations

import numpy as np
from numba import njit

from quote.geometry.numpy_dots import dot_einsum, dot_gemm, dot_gemv


@njit(cache=False)
def _dots(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    n, k = a.shape[0], b.shape[0]
    rowwise = np.empty(n)
    gemm = np.empty((n, k))
    gemv = np.empty(n)
    for i in range(n):
        x, y, z = a[i, 0], a[i, 1], a[i, 2]
        rowwise[i] = dot_einsum(x, y, z, b[i % k, 0], b[i % k, 1], b[i % k, 2])
        gemv[i] = dot_gemv(x, y, z, v[0], v[1], v[2])
        for j in range(k):
            gemm[i, j] = dot_gemm(x, y, z, b[j, 0], b[j, 1], b[j, 2])
    return rowwise, gemm, gemv


def test_dot_products_round_as_numpy() -> None:
    rng = np.random.default_rng(0)
    for n, k in [(2, 2), (3, 3), (17, 11), (640, 3), (5000, 7)]:
        scale = rng.choice([1e-3, 1.0, 1e3], size=(n, 1))
        a = rng.normal(size=(n, 3)) * scale
        b = rng.normal(size=(k, 3))
        v = rng.normal(size=3)
        rowwise, gemm, gemv = _dots(a, b, v)
        np.testing.assert_array_equal(rowwise, np.einsum("ij,ij->i", a, b[np.arange(n) % k]))
        np.testing.assert_array_equal(gemm, a @ b.T)
        np.testing.assert_array_equal(gemv, a @ v)
