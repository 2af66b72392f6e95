"""Sorting inside numba kernels.

numba checks only a kernel's own source file for changes: after editing this module, delete the
``__pycache__/*.nb*`` files of the modules that call it (a fresh checkout has none).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def radix_argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of non-negative int64 keys (LSD radix, 11 bits a
    pass: numba's own sorts are several times slower than numpy's)."""
    n = len(keys)
    order = np.arange(n)
    if n < 2:
        return order
    top = keys.max()
    spare = np.empty(n, dtype=np.int64)
    count = np.empty(2049, dtype=np.int64)
    shift = 0
    while (top >> shift) > 0:
        count[:] = 0
        for i in range(n):
            count[((keys[order[i]] >> shift) & 2047) + 1] += 1
        for b in range(2048):
            count[b + 1] += count[b]
        for i in range(n):
            d = (keys[order[i]] >> shift) & 2047
            spare[count[d]] = order[i]
            count[d] += 1
        order, spare = spare, order
        shift += 11
    return order
