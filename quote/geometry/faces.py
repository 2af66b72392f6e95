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
"""

from __future__ import annotations

import numpy as np

from quote.geometry.brep import FACE_TYPES
from quote.geometry.meshdata import MeshData, connected_labels, row_norm

_COPLANAR = 1e-3  # radians
_SMOOTH = np.radians(40.0)
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
    nf = len(md.faces)
    if nf == 0:
        return counts
    ang = md.adjacency_angles
    adj = md.adjacency
    flat = ang < _COPLANAR
    smooth = ~flat & (ang < _SMOOTH)
    # Coplanar regions first: a facet of a tessellated curve is a region of 1-2 triangles.
    flat_pairs = adj[flat]
    n_reg, region = connected_labels(nf, flat_pairs[:, 0], flat_pairs[:, 1])
    # A triangle is curved when it is on a fitted cylinder, bends smoothly on two sides, or
    # bends smoothly to a neighbour of similar size across the shared edge (the next facet of
    # the same surface; a wall tangent to a fillet is far wider than the fillet's facets).
    sp = adj[smooth]
    bends = np.bincount(sp.ravel(), minlength=nf)
    edge = md.vertices[md.adjacency_edges[smooth]]
    length = np.maximum(row_norm(edge[:, 1] - edge[:, 0]), 1e-12)
    w0, w1 = 2.0 * md.areas[sp[:, 0]] / length, 2.0 * md.areas[sp[:, 1]] / length
    similar = np.maximum(w0, w1) <= _WIDTH_RATIO * np.maximum(np.minimum(w0, w1), 1e-12)
    tri_curved = (cylinder_label >= 0) | (bends >= 2)
    tri_curved[sp[similar].ravel()] = True
    reg_curved = np.bincount(region, tri_curved, n_reg) > 0
    curved = reg_curved[region]
    counts["plane"] = int((~reg_curved).sum())
    join = (flat | smooth) & curved[adj[:, 0]] & curved[adj[:, 1]]
    joined = adj[join]
    n, comp = connected_labels(nf, joined[:, 0], joined[:, 1])
    is_curved = np.zeros(n, dtype=bool)
    is_curved[comp[curved]] = True
    cyl_area = np.bincount(comp, md.areas * (cylinder_label >= 0), n)
    area = np.bincount(comp, md.areas, n)
    cyl = is_curved & (cyl_area > 0.5 * area)
    counts["cylinder"] = int(cyl.sum())
    counts["other"] = int((is_curved & ~cyl).sum())
    return counts
