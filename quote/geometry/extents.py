"""Axis-aligned and minimum oriented bounding boxes, from the tessellation.

OpenCASCADE's "optimal" box is inflated for some real files (the NIST CTC 1 geometry-only STEP
gives 1170 x 650 mm for an 800 x 450 mm part), so both boxes are computed from the triangle mesh.

The oriented box is a heuristic: on machined parts the minimum box lies flush with one of the
part's large flat faces (the exact minimum needs O'Rourke's cubic-time search). So the candidate
directions are the dominant directions of the mesh's own face normals (by area, merged within
~0.5 degrees); in each, the minimum-area rectangle of the projected outline (rotating calipers,
vectorised) completes the box; the smallest volume wins. No 3D convex hull is built (qhull on
the cospherical rims of turned parts costs more than loading the file); interior points are
first discarded by the Akl-Toussaint test. When every dominant direction is a file axis the
axis-aligned box is kept, and a rotated box must be 0.5 % smaller to replace it (CAD parts are
modelled square to the file's axes, and keeping them keeps "+Z" meaning the user's +Z).
trimesh's ``oriented_bounds`` tries every hull direction and costs 5-20 ms on parts whose
loading costs 2 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from quote.geometry.meshdata import canonical_axes, sorted_unique

FloatArray = np.ndarray

_AXIS_ALIGNED_PREFERENCE = 0.995
# Normal directions (merged on a ~0.5 degree grid) holding at least this share of the area are
# tried as one side of the box, at most _CANDIDATES of them.
_MAJOR_SHARE = 0.03
_CANDIDATES = 6


@dataclass(frozen=True)
class Frame:
    """The part's box frame.

    rotation : (3, 3) float
        Rows are the frame's X, Y, Z axes in file coordinates (orthonormal, right-handed).
    center : (3,) float
        Centre of the box, mm, file coordinates.
    extents : (3,) float
        Box size along the frame's X, Y, Z, mm.
    aligned : bool
        True when the frame is the file's own axes (the axis-aligned box is the minimum).
    outer_points : (H, 3) float
        A subset of the vertices holding every convex hull vertex, mm (extents and outlines
        along any direction are exact from it).
    """

    rotation: FloatArray
    center: FloatArray
    extents: FloatArray
    aligned: bool
    outer_points: FloatArray

    @property
    def sorted_extents(self) -> tuple[float, float, float]:
        """Extents largest first, mm."""
        e = sorted((float(x) for x in self.extents), reverse=True)
        return (e[0], e[1], e[2])

    def directions(self) -> FloatArray:
        """(6, 3) unit vectors +X, -X, +Y, -Y, +Z, -Z of the frame in file coordinates."""
        r = self.rotation
        return np.array([r[0], -r[0], r[1], -r[1], r[2], -r[2]])


DIRECTION_LABELS = ("+X", "-X", "+Y", "-Y", "+Z", "-Z")

_PREFILTER_DIRS = np.array(
    [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, -1, 0],
        [1, 0, 1],
        [1, 0, -1],
        [0, 1, 1],
        [0, 1, -1],
        [1, 1, 1],
        [1, 1, -1],
        [1, -1, 1],
        [-1, 1, 1],
    ],
    dtype=np.float64,
)


def outer_points(vertices: FloatArray) -> FloatArray:
    """Drop points strictly inside the polytope of the extreme points along 13 directions.

    The Akl-Toussaint heuristic: such points cannot be hull vertices, and on machined parts
    (holes, pockets, bosses inside the outline) they are most of the mesh.
    """
    if len(vertices) < 64:
        return vertices
    proj = vertices @ _PREFILTER_DIRS.T
    extreme = sorted_unique(np.concatenate((proj.argmin(axis=0), proj.argmax(axis=0))))
    try:
        inner = ConvexHull(vertices[extreme])
    except (QhullError, ValueError):
        return vertices
    tol = 1e-9 * float(np.ptp(vertices, axis=0).max())
    # equations: n.x + c <= 0 inside; keep points on or outside any facet plane.
    outside = (vertices @ inner.equations[:, :3].T + inner.equations[:, 3] > -tol).any(axis=1)
    return vertices[outside]


def oriented_frame(vertices: FloatArray, normals: FloatArray, areas: FloatArray) -> Frame:
    """Minimum oriented box of a mesh (mm), preferring the file axes on near ties.

    Parameters
    ----------
    vertices : (n, 3) float
        Mesh vertices, mm.
    normals, areas : (F, 3) float, (F,) float
        Unit face normals and face areas (mm^2): their dominant directions are the candidates.
    """
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    pts = outer_points(vertices)
    aligned = Frame(np.eye(3), (lo + hi) / 2.0, hi - lo, True, pts)
    directions = _dominant_directions(normals, areas)
    if directions is None:
        return aligned
    best = _best_rotation(pts, directions)
    if best is None:
        return aligned
    rot, vol = best
    if float(np.prod(hi - lo)) <= vol / _AXIS_ALIGNED_PREFERENCE:
        return aligned
    # Largest extent on X, smallest on Z: a plate lies flat with +Z up.
    order = np.argsort(-np.ptp(pts @ rot.T, axis=0), kind="stable")
    rot = rot[order]
    if np.linalg.det(rot) < 0:
        rot[2] = -rot[2]
    local = pts @ rot.T
    llo, lhi = local.min(axis=0), local.max(axis=0)
    return Frame(rot, ((llo + lhi) / 2.0) @ rot, lhi - llo, False, pts)


def _dominant_directions(normals: FloatArray, areas: FloatArray) -> FloatArray | None:
    """Dominant face-normal directions (one hemisphere), largest area first; None when they
    are all file axes (the axis-aligned box is then the minimum one)."""
    folded = canonical_axes(normals)
    q = np.round(folded * 100.0).astype(np.int64) + 100
    keys = (q[:, 0] * 201 + q[:, 1]) * 201 + q[:, 2]
    uniq, inverse = np.unique(keys, return_inverse=True)
    group_area = np.bincount(inverse, weights=areas)
    order = np.argsort(-group_area, kind="stable")
    major = order[group_area[order] >= _MAJOR_SHARE * group_area.sum()][:_CANDIDATES]
    if len(major) == 0:
        major = order[:1]
    dirs = np.zeros((len(major), 3))
    for i, g in enumerate(major):  # at most _CANDIDATES groups
        members = inverse == g
        d = (folded[members] * areas[members, None]).sum(axis=0)
        dirs[i] = d / max(float(np.linalg.norm(d)), 1e-300)
    if (np.abs(dirs).max(axis=1) > 1.0 - 1e-6).all():
        return None
    return dirs


def _best_rotation(pts: FloatArray, directions: FloatArray) -> tuple[FloatArray, float] | None:
    """Rotation (rows = axes) and volume of the smallest box with a side across a direction."""
    best: tuple[FloatArray, float] | None = None
    for n in directions:
        u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        v = np.cross(n, u)
        flat = np.column_stack((pts @ u, pts @ v))
        height = float(np.ptp(pts @ n))
        rect = _min_area_rectangle(flat)
        if rect is None:
            continue
        angle, area = rect
        vol = area * height
        if best is None or vol < best[1]:
            c, s = np.cos(angle), np.sin(angle)
            best = (np.array([c * u + s * v, -s * u + c * v, n]), vol)
    return best


def _min_area_rectangle(flat: FloatArray) -> tuple[float, float] | None:
    """(angle, area) of the minimum-area rectangle of 2D points; a side is on a hull edge."""
    try:
        h2 = ConvexHull(flat)
    except (QhullError, ValueError):
        return None
    ring = flat[h2.vertices]
    edges = np.roll(ring, -1, axis=0) - ring
    lengths = np.linalg.norm(edges, axis=1)
    keep = lengths > 0
    angles = np.arctan2(edges[keep, 1], edges[keep, 0])
    c, s = np.cos(angles), np.sin(angles)
    x = ring @ np.vstack((c, s))  # (H, E): projections on each edge direction
    y = ring @ np.vstack((-s, c))
    areas = np.ptp(x, axis=0) * np.ptp(y, axis=0)
    i = int(np.argmin(areas))
    return float(angles[i]), float(areas[i])
