"""Minimum wall thickness by ray casting inward from surface samples.

From each sample a ray goes along the inward normal and stops where it leaves the material (the
first surface hit). That distance is the local wall thickness when the exit face is roughly
opposite the start face; the thinnest over up to 2000 area-weighted samples is the part's
minimum wall. Walls narrower than the sampling density (a few mm^2 of area) can be missed.
"""

from __future__ import annotations

import numpy as np

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
    directions = -normals
    tri, dist = md.first_hit(points - normals * eps, directions)
    ok = tri >= 0
    exit_facing = np.einsum("ij,ij->i", md.normals[np.maximum(tri, 0)], directions) > _EXIT_COS
    ok &= exit_facing
    if not ok.any():
        return float("inf"), None
    thickness = np.where(ok, dist + eps, np.inf)
    i = int(np.argmin(thickness))
    p = points[i]
    return float(thickness[i]), (float(p[0]), float(p[1]), float(p[2]))
