"""Minimum wall thickness by ray casting inward from surface samples.

From each sample a ray goes along the inward normal and stops where it leaves the material (the
first surface hit). That distance is the local wall thickness when the exit face is roughly
opposite the start face; the thinnest over up to 2000 area-weighted samples is the part's
minimum wall. Walls narrower than the sampling density (a few mm^2 of area) can be missed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quote.geometry.meshdata import MeshData

# The exit surface must face within 30 degrees of the ray: a wall has two roughly parallel
# sides, while a ray leaving through a face that meets the start face at an edge measures how
# close the sample is to that edge (any corner sharper than 90 degrees: chamfers, dovetails,
# drafts), not a wall. Walls tapering by more than 30 degrees are not measured.
_EXIT_COS = np.cos(np.radians(30.0))


def min_wall(
    md: MeshData, points: np.ndarray, normals: np.ndarray
) -> tuple[float, tuple[float, float, float] | None]:
    """Thinnest wall (mm) and the surface point where it was measured (mm, file coordinates).

    Parameters
    ----------
    md : MeshData
    points, normals : (n, 3) float
        Surface samples (mm) and their outward normals.

    Returns
    -------
    (thickness_mm, location_mm)
        location is None (and the thickness inf) when no ray found an exit, which only a
        broken mesh produces.
    """
    eps = 1e-4 * md.scale
    origins, directions = _inward_rays(points, normals, eps)
    tri, dist = md.first_hit(origins, directions)
    i = _thinnest(tri, dist, md.normals, directions, eps)
    if i < 0:
        return float("inf"), None
    p = points[i]
    return float(dist[i] + eps), (float(p[0]), float(p[1]), float(p[2]))


@njit(cache=True, nogil=True)
def _inward_rays(
    points: np.ndarray, normals: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Origins (mm) ``eps`` mm inside the surface and directions along the inward normals,
    (n, 3) each."""
    origins = np.empty_like(points)
    directions = np.empty_like(normals)
    for i in range(points.shape[0]):
        for c in range(3):
            origins[i, c] = points[i, c] - normals[i, c] * eps
            directions[i, c] = -normals[i, c]
    return origins, directions


@njit(cache=True, nogil=True)
def _thinnest(
    tri: np.ndarray, dist: np.ndarray, normals: np.ndarray, directions: np.ndarray, eps: float
) -> int:
    """Index of the thinnest wall (distance + ``eps``, mm) among the rays that left through a
    face within 30 degrees of facing them (the first on ties), -1 when none did."""
    best, found = np.inf, -1
    for i in range(len(tri)):
        t = tri[i]
        if t < 0 or not dist[i] + eps < best:
            continue
        facing = normals[t, 0] * directions[i, 0] + normals[t, 1] * directions[i, 1]
        facing += normals[t, 2] * directions[i, 2]
        if facing > _EXIT_COS:
            best, found = dist[i] + eps, i
    return found
