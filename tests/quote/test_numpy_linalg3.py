"""3 x 3 solves and determinants in kernels: numpy.linalg's bits."""

from __future__ import annotations

import numpy as np

from quote.geometry.numpy_linalg3 import det3, solve3


def _systems(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Kasa normal equations of points on arcs and scattered points, and random matrices."""
    rng = np.random.default_rng(0)
    ms, rhs = [], []
    for i in range(n):
        if i % 3 == 0:
            ms.append(rng.normal(size=(3, 3)) * rng.choice([1e-3, 1.0, 1e3]))
            rhs.append(rng.normal(size=3))
            continue
        count = int(rng.integers(3, 40))
        if i % 3 == 1:
            theta = rng.uniform(0, rng.uniform(0.05, 6.3), count)
            r = rng.uniform(0.1, 100)
            pts = np.column_stack((r * np.cos(theta), r * np.sin(theta)))
        else:
            pts = rng.normal(size=(count, 2)) * rng.choice([0.01, 1.0, 100.0])
        x, y = pts[:, 0] - pts[:, 0].mean(), pts[:, 1] - pts[:, 1].mean()
        z = x * x + y * y
        ms.append([[x @ x, x @ y, x.sum()], [x @ y, y @ y, y.sum()], [x.sum(), y.sum(), count]])
        rhs.append(-np.array([x @ z, y @ z, z.sum()]))
    return np.array(ms), np.array(rhs)


def test_solve_and_det_are_numpys_bit_for_bit() -> None:
    ms, rhs = _systems(6000)
    solved = np.linalg.solve(ms, rhs[:, :, None])[:, :, 0]
    dets = np.linalg.det(ms)
    for i in range(len(ms)):
        np.testing.assert_array_equal(solve3(ms[i], rhs[i]), solved[i], err_msg=str(i))
        assert det3(ms[i]) == dets[i], i


def test_det_of_a_singular_matrix_is_zero() -> None:
    m = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
    assert det3(m) == np.linalg.det(m) == 0.0
    assert det3(np.zeros((3, 3))) == 0.0
