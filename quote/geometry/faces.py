"""Face counts by surface type.

STEP files have exact faces (counted in ``quote.geometry.brep``). A mesh has only triangles, so it
is split into regions instead:

* plane: connected groups of coplanar triangles (normals within 0.06 degrees) that are not a
  facet of a curved surface (a facet bends smoothly, < 40 degrees, to a neighbour of similar
  width, or to neighbours on two sides);
* cylinder: connected curved regions mostly covered by fitted cylinders (see ``cylinders``);
* other: the remaining connected curved regions (fillets blends, spheres, free-form ...).

cone, torus, sphere and bspline are not told apart on meshes and stay 0. A CAD face split by the
exporter into separate coplanar patches counts once per patch.

The counting is one compiled pass (numba) over the triangle adjacency: on meshes of a few
thousand triangles numpy's per-call overhead would cost ten times the work.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quote.geometry.brep import FACE_TYPES
from quote.geometry.meshdata import MeshData
from quote.geometry.union_find import component_labels

_COPLANAR = 1e-3  # radians
_SMOOTH = float(np.radians(40.0))
_WIDTH_RATIO = 3.0


def mesh_face_counts(md: MeshData, cylinder_label: np.ndarray) -> dict[str, int]:
    """Region counts of a mesh by type (keys as ``brep.FACE_TYPES``).

    Parameters
    ----------
    md : MeshData
    cylinder_label : (F,) int
        Cylinder patch of each triangle, -1 for none (from ``cylinders.from_mesh``).
    """
    counts = dict.fromkeys(FACE_TYPES, 0)
    if len(md.faces) == 0:
        return counts
    plane, cylinder, other = _count_regions(
        md.vertices,
        md.areas,
        md.adjacency,
        md.adjacency_edges,
        md.adjacency_angles,
        np.asarray(cylinder_label, dtype=np.int64),
    )
    counts["plane"], counts["cylinder"], counts["other"] = plane, cylinder, other
    return counts


@njit(cache=True, nogil=True)
def _count_regions(
    vertices: np.ndarray,
    areas: np.ndarray,
    adj: np.ndarray,
    adj_edges: np.ndarray,
    ang: np.ndarray,
    cylinder_label: np.ndarray,
) -> tuple[int, int, int]:
    """(planes, cylinders, others) of a mesh; see ``mesh_face_counts``."""
    nf = len(areas)
    ne = len(ang)
    flat = ang < _COPLANAR
    smooth = ~flat & (ang < _SMOOTH)
    # Coplanar regions first: a facet of a tessellated curve is a region of 1-2 triangles.
    n_reg, region = component_labels(nf, adj[:, 0], adj[:, 1], flat)
    # A triangle is curved when it is on a fitted cylinder, bends smoothly on two sides, or
    # bends smoothly to a neighbour of similar size across the shared edge (the next facet of
    # the same surface; a wall tangent to a fillet is far wider than the fillet's facets).
    bends = np.zeros(nf, dtype=np.int64)
    tri_curved = cylinder_label >= 0
    for e in range(ne):
        if not smooth[e]:
            continue
        f0, f1 = adj[e, 0], adj[e, 1]
        bends[f0] += 1
        bends[f1] += 1
        p, q = adj_edges[e, 0], adj_edges[e, 1]
        dx = vertices[q, 0] - vertices[p, 0]
        dy = vertices[q, 1] - vertices[p, 1]
        dz = vertices[q, 2] - vertices[p, 2]
        length = max(np.sqrt(dx * dx + dy * dy + dz * dz), 1e-12)
        w0, w1 = 2.0 * areas[f0] / length, 2.0 * areas[f1] / length
        if max(w0, w1) <= _WIDTH_RATIO * max(min(w0, w1), 1e-12):
            tri_curved[f0] = True
            tri_curved[f1] = True
    for f in range(nf):
        if bends[f] >= 2:
            tri_curved[f] = True
    reg_curved = np.zeros(n_reg, dtype=np.bool_)
    for f in range(nf):
        if tri_curved[f]:
            reg_curved[region[f]] = True
    planes = 0
    for r in range(n_reg):
        if not reg_curved[r]:
            planes += 1
    curved = np.empty(nf, dtype=np.bool_)
    for f in range(nf):
        curved[f] = reg_curved[region[f]]
    # Curved regions joined across smooth or coplanar edges are one surface each.
    join = np.empty(ne, dtype=np.bool_)
    for e in range(ne):
        join[e] = (flat[e] or smooth[e]) and curved[adj[e, 0]] and curved[adj[e, 1]]
    n, comp = component_labels(nf, adj[:, 0], adj[:, 1], join)
    is_curved = np.zeros(n, dtype=np.bool_)
    cyl_area = np.zeros(n)
    area = np.zeros(n)
    # Sums in triangle order, as np.bincount adds them.
    for f in range(nf):
        c = comp[f]
        if curved[f]:
            is_curved[c] = True
        cyl_area[c] += areas[f] * (1.0 if cylinder_label[f] >= 0 else 0.0)
        area[c] += areas[f]
    cylinders = 0
    others = 0
    for c in range(n):
        if is_curved[c]:
            if cyl_area[c] > 0.5 * area[c]:
                cylinders += 1
            else:
                others += 1
    return planes, cylinders, others
