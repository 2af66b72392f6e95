"""Minimum wall: the kernel picks what the numpy selection picked, ties and misses included."""

from __future__ import annotations

import numpy as np

from quote.corpus import generate_corpus
from quote.geometry import walls
from tests.quote.feature_inputs import feature_inputs


def _numpy_thinnest(
    tri: np.ndarray, dist: np.ndarray, normals: np.ndarray, directions: np.ndarray, eps: float
) -> int:
    """The numpy selection the kernel replaced: first argmin of the accepted thicknesses."""
    ok = tri >= 0
    ok &= np.einsum("ij,ij->i", normals[np.maximum(tri, 0)], directions) > walls._EXIT_COS
    if not ok.any():
        return -1
    return int(np.argmin(np.where(ok, dist + eps, np.inf)))


def test_thinnest_matches_numpy_with_ties_and_misses() -> None:
    rng = np.random.default_rng(9)
    normals = rng.normal(size=(50, 3))
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    for _ in range(300):
        n = int(rng.integers(1, 60))
        tri = rng.integers(-1, 50, n)
        # Few distinct distances (ties); 1 and the next float tie only once eps = 1 is added.
        dist = rng.choice([1.0, np.nextafter(1.0, 2.0), 2.0, 3.5], n)
        directions = rng.normal(size=(n, 3))
        directions /= np.linalg.norm(directions, axis=1)[:, None]
        facing = rng.random(n) < 0.5
        directions[facing] = normals[np.maximum(tri[facing], 0)]
        expected = _numpy_thinnest(tri, dist, normals, directions, 1.0)
        assert walls._thinnest(tri, dist, normals, directions, 1.0) == expected


def test_min_wall_on_parts_matches_numpy() -> None:
    for name, mesh in generate_corpus(8, random_state=2):
        x = feature_inputs(mesh)
        eps = 1e-4 * x.md.scale
        tri, dist = x.md.first_hit(x.points - x.normals * eps, -x.normals)
        i = _numpy_thinnest(tri, dist, x.md.normals, -x.normals, eps)
        thickness, location = walls.min_wall(x.md, x.points, x.normals)
        assert thickness == float(dist[i] + eps), name
        assert location == tuple(float(c) for c in x.points[i]), name
