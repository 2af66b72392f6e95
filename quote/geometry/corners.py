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
from numba import njit

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
    return _sharp_edges(
        md.adjacency,
        md.adjacency_edges,
        md.adjacency_convex,
        md.adjacency_angles,
        md.vertices,
        md.normals,
        np.ascontiguousarray(setup_vectors, dtype=np.float64),
        1e-3 * md.scale,
    )


@njit(cache=True, nogil=True)
def _sharp_edges(
    adjacency: np.ndarray,
    edges: np.ndarray,
    convex: np.ndarray,
    angles: np.ndarray,
    vertices: np.ndarray,
    normals: np.ndarray,
    dirs: np.ndarray,
    min_length: float,
) -> np.ndarray:
    """Midpoints (m, 3) of the concave edges sharper than 70 degrees, longer than
    ``min_length`` (mm), along a setup direction (``dirs``, (k, 3)) and not cut by the end of
    the tool in another setup, in adjacency order (one pass: a dozen numpy calls on the few
    candidate edges cost more than the work)."""
    out = np.empty((len(angles), 3))
    m = 0
    for i in range(len(angles)):
        if convex[i] or not angles[i] > _SHARP:
            continue
        p, q = edges[i, 0], edges[i, 1]
        e0 = vertices[q, 0] - vertices[p, 0]
        e1 = vertices[q, 1] - vertices[p, 1]
        e2 = vertices[q, 2] - vertices[p, 2]
        length = np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
        if not length > min_length:
            continue
        scale = max(length, 1e-12)
        e0, e1, e2 = e0 / scale, e1 / scale, e2 / scale
        fa, fb = adjacency[i, 0], adjacency[i, 1]
        along, cut = False, False
        for k in range(dirs.shape[0]):
            d0, d1, d2 = dirs[k, 0], dirs[k, 1], dirs[k, 2]
            cos = abs(e0 * d0 + e1 * d1 + e2 * d2)
            along |= cos > _PARALLEL_COS
            # Across that setup with one face a floor for it: cut by the end of the tool.
            if cos < 0.05 and (
                normals[fa, 0] * d0 + normals[fa, 1] * d1 + normals[fa, 2] * d2 > _PARALLEL_COS
                or normals[fb, 0] * d0 + normals[fb, 1] * d1 + normals[fb, 2] * d2 > _PARALLEL_COS
            ):
                cut = True
        if along and not cut:
            for c in range(3):
                out[m, c] = (vertices[p, c] + vertices[q, c]) / 2.0
            m += 1
    return out[:m].copy()
