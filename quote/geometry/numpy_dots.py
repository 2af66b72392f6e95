"""Dot products of 3-vectors inside numba kernels, rounded exactly as numpy rounds them.

The numba kernels of the feature modules replace numpy expressions on small arrays; they give
the same bits as the numpy code they replace, so the features do not move (a tie broken by an
argmax, a threshold, a sort stays broken the same way). numpy's products of 3-vectors are not
left-to-right sums:

* ``np.einsum("ij,ij->i", a, b)`` sums ``(a0 b0 + a2 b2) + a1 b1`` (its two-lane loop);
* ``a @ b`` with (n, 3) @ (3, k), n, k >= 2, is OpenBLAS's gemm: a chain of fused
  multiply-adds ``fma(a2, b2, fma(a1, b1, a0 b0))``; (n, 2) @ (2, k) likewise;
* ``a @ v`` with (n, 3) @ (3,) is OpenBLAS's gemv: ``fma(a2, v2, fma(a0, v0, a1 v1))``.

(measured for numpy 2.4 and its OpenBLAS 0.3.31 on x86-64, and checked by
``tests/quote/test_numpy_dots.py``: another BLAS build may order them otherwise, and then the
features move by an ulp, as numpy's own would). ``fma`` is LLVM's ``llvm.fma``: the hardware
instruction, or libm's exact software fallback on a CPU without one.

numba caches each kernel with the code of the functions it inlines but checks only the kernel's
own source file for changes: after editing this module, delete the ``__pycache__/*.nb*`` files
of the modules that import it (a fresh checkout has none).
"""

from __future__ import annotations

from typing import Any

from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` rounded once (float64)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.fma(*args)

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def dot_einsum(ax: float, ay: float, az: float, bx: float, by: float, bz: float) -> float:
    """``np.einsum("ij,ij->i", a, b)`` for one row."""
    return (ax * bx + az * bz) + ay * by


@njit(cache=True, nogil=True, inline="always")
def dot_gemm(ax: float, ay: float, az: float, bx: float, by: float, bz: float) -> float:
    """One element of ``a @ b`` for (n, 3) @ (3, k) matrices (n, k >= 2)."""
    return fma(az, bz, fma(ay, by, ax * bx))


@njit(cache=True, nogil=True, inline="always")
def dot_gemv(ax: float, ay: float, az: float, bx: float, by: float, bz: float) -> float:
    """One element of ``a @ v`` for an (n, 3) matrix and a (3,) vector."""
    return fma(az, bz, fma(ax, bx, ay * by))
