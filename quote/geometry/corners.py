"""Smallest internal (concave) corner radius of the corners an end mill cuts with its side.

Such corners run parallel to a setup direction: the tool's radius is left in them. They are

* inner fillets: concave cylinders covering less than a full circle with their axis along a setup
  direction (exact B-rep faces for STEP, fitted mesh patches otherwise);
* sharp concave edges (radius 0) along a setup direction, found on the mesh (dihedral above
  70 degrees: tessellated fillets bend by far less per edge). A sharp edge whose one face is a
  floor for another setup, with the edge across that setup's axis, is cut there by the end of the
  tool and does not count.
"""

from __future__ import annotations

import numpy as np

from quote.geometry.cylinders import Cylinders
from quote.geometry.meshdata import MeshData

_SHARP = np.radians(70.0)
_PARALLEL_COS = np.cos(np.radians(3.0))


def min_internal_radius(
    md: MeshData, cylinders: Cylinders, setup_vectors: np.ndarray
) -> tuple[float | None, tuple[float, float, float] | None]:
    """Smallest internal corner radius (mm) along a setup direction and where it is (mm).

    Parameters
    ----------
    md : MeshData
    cylinders : Cylinders
        All cylindrical features; the partial concave ones are the fillet candidates.
    setup_vectors : (k, 3) float
        Unit vectors of the chosen setup directions.

    Returns
    -------
    (radius_mm, location_mm), or (None, None) when no such corner exists.
    """
    best_r = np.inf
    best_loc: np.ndarray | None = None
    dirs = np.asarray(setup_vectors).reshape(-1, 3)
    if len(cylinders):
        along = (np.abs(cylinders.axis @ dirs.T) > _PARALLEL_COS).any(axis=1)
        fil = cylinders.concave & ~cylinders.full & along
        if fil.any():
            i = int(np.flatnonzero(fil)[np.argmin(cylinders.radius[fil])])
            best_r = float(cylinders.radius[i])
            best_loc = cylinders.origin[i] + cylinders.axis[i] * (
                (cylinders.t0[i] + cylinders.t1[i]) / 2.0
            )
    sharp = sharp_internal_edges(md, dirs)
    if len(sharp):
        best_r = 0.0
        best_loc = sharp[0]
    if best_loc is None:
        return None, None
    return best_r, (float(best_loc[0]), float(best_loc[1]), float(best_loc[2]))


def sharp_internal_edges(md: MeshData, setup_vectors: np.ndarray) -> np.ndarray:
    """(m, 3) midpoints (mm) of sharp concave edges an end mill would leave its radius in."""
    if len(md.adjacency) == 0 or len(setup_vectors) == 0:
        return np.zeros((0, 3))
    cand = ~md.adjacency_convex & (md.adjacency_angles > _SHARP)
    if not cand.any():
        return np.zeros((0, 3))
    idx = np.flatnonzero(cand)
    e = md.vertices[md.adjacency_edges[idx]]
    vec = e[:, 1] - e[:, 0]
    length = np.linalg.norm(vec, axis=1)
    vec = vec / np.maximum(length, 1e-12)[:, None]
    along = (np.abs(vec @ setup_vectors.T) > _PARALLEL_COS).any(axis=1) & (length > 1e-3 * md.scale)
    if not along.any():
        return np.zeros((0, 3))
    idx, e, vec = idx[along], e[along], vec[along]
    na = md.normals[md.adjacency[idx, 0]]
    nb = md.normals[md.adjacency[idx, 1]]
    across = np.abs(vec @ setup_vectors.T) < 0.05  # (m, k): edge lies across that setup
    floor = ((na @ setup_vectors.T) > _PARALLEL_COS) | ((nb @ setup_vectors.T) > _PARALLEL_COS)
    keep = ~(across & floor).any(axis=1)
    return e[keep].mean(axis=1)
