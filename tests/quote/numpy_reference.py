"""The numpy code the feature kernels replaced, kept as the oracle they must match bit for bit.

``extents``, ``cylinders``, ``holes`` and ``faces`` were rewritten as numba kernels for speed,
with the promise that every output is the same to the last bit (they round as numpy does, see
``quote.geometry.numpy_dots``). These are the numpy implementations as they were, verbatim but
for names; the tests in ``test_extents``, ``test_cylinders``, ``test_holes`` and ``test_faces``
compare the kernels with them on generated and real parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

from quote.geometry.brep import FACE_TYPES, CylinderFaces
from quote.geometry.cylinders import (
    _AXIS_COS,
    _MAX_CURVED_ANGLE,
    _MAX_EXTRA_AXES,
    _MIN_AXIS_SUPPORT,
    _MIN_CURVED_ANGLE,
    _PERP_TOL,
    TWO_PI,
    Cylinders,
)
from quote.geometry.cylinders import _WIDTH_RATIO as WIDTH_RATIO
from quote.geometry.extents import (
    _AXIS_ALIGNED_PREFERENCE,
    _CANDIDATES,
    _MAJOR_SHARE,
    _PREFILTER_DIRS,
)
from quote.geometry.faces import _COPLANAR, _SMOOTH
from quote.geometry.holes import _END_SLACK, _RAYS_PER_END, _RING
from quote.geometry.meshdata import (
    MeshData,
    canonical_axes,
    connected_labels,
    cross,
    row_norm,
    sorted_unique,
)
from quote.types import Hole

FloatArray = np.ndarray
DrillMatcher = Callable[[float], tuple[str | None, str | None]]


@dataclass(frozen=True)
class RefFrame:
    """``extents.Frame`` as it was (without ``bbox``)."""

    rotation: FloatArray
    center: FloatArray
    extents: FloatArray
    aligned: bool
    outer_points: FloatArray


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


def oriented_frame(vertices: FloatArray, normals: FloatArray, areas: FloatArray) -> RefFrame:
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
    aligned = RefFrame(np.eye(3), (lo + hi) / 2.0, hi - lo, True, pts)
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
    return RefFrame(rot, ((llo + lhi) / 2.0) @ rot, lhi - llo, False, pts)


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


def from_brep(faces: CylinderFaces, *, tol: float = 1e-3) -> Cylinders:
    """Merge B-rep cylinder faces on one axis line, one radius and touching ranges (tol mm)."""
    n = len(faces.radius)
    if n == 0:
        return Cylinders.empty()
    key = np.column_stack(
        (
            np.round(faces.axis * 1e3),
            np.round(faces.origin / tol),
            np.round(faces.radius / tol),
            faces.concave,
        )
    ).astype(np.int64)
    group = _row_groups(key)
    # Sort by group then start; a new feature starts where the range does not touch the last.
    order = np.lexsort((faces.t0, group))
    g, t0, t1 = group[order], faces.t0[order], faces.t1[order]
    running_end = np.empty(n)
    feature = np.zeros(n, dtype=np.int64)
    current = -1
    for i in range(n):  # one pass over the cylinder faces only (tens to hundreds), not triangles
        if i == 0 or g[i] != g[i - 1] or t0[i] > running_end[i - 1] + tol:
            current += 1
            running_end[i] = t1[i]
        else:
            running_end[i] = max(running_end[i - 1], t1[i])
        feature[i] = current
    k = current + 1
    src = order
    first = np.zeros(k, dtype=np.int64)
    first[feature[::-1]] = src[::-1]
    span = np.minimum(np.bincount(feature, weights=faces.span[src], minlength=k), TWO_PI)
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    np.minimum.at(lo, feature, t0)
    np.maximum.at(hi, feature, t1)
    radius = faces.radius[first]
    return Cylinders(
        axis=faces.axis[first],
        origin=faces.origin[first],
        radius=radius,
        t0=lo,
        t1=hi,
        coverage=span,
        concave=faces.concave[first],
        area=radius * span * (hi - lo),
    )


def _row_groups(key: np.ndarray) -> np.ndarray:
    """(n,) group of each row of an (n, m) int array, groups numbered in lexicographic row
    order (as ``np.unique(key, axis=0, return_inverse=True)`` numbers them, for less)."""
    order = np.lexsort(key.T[::-1])
    ordered = key[order]
    new = np.ones(len(key), dtype=np.int64)
    new[0] = 0
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    group = np.empty(len(key), dtype=np.int64)
    group[order] = np.cumsum(new)
    return group


def merge_coaxial(cyl: Cylinders, *, tol: float) -> Cylinders:
    """Merge mesh patches on one axis line with one radius and touching ranges (tol mm).

    A hole whose facets the fit split in two (a sliver facet, a seam) becomes one again;
    coaxial holes in opposite walls stay two. Coverages add up (capped at a full turn).
    """
    if len(cyl) < 2:
        return cyl
    as_faces = CylinderFaces(
        axis=cyl.axis,
        origin=cyl.origin,
        radius=cyl.radius,
        t0=cyl.t0,
        t1=cyl.t1,
        span=cyl.coverage,
        concave=cyl.concave,
    )
    return from_brep(as_faces, tol=tol)


def _orthonormal(axes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Unit vectors u, v completing each (n, 3) unit axis to a right-handed frame."""
    helper = np.where(np.abs(axes[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = cross(axes, helper)
    u /= row_norm(u)[:, None]
    return u, cross(axes, u)


def _curved_edges(md: MeshData) -> tuple[np.ndarray, FloatArray]:
    """Triangle pairs meeting at a smoothly curved edge, (m, 2), and the unit ``n1 x n2`` of
    each (the axis the surface bends around), (m, 3); computed once per mesh."""
    found = md.cache.get("numpy_reference_curved_edges")
    if found is None:
        ang = md.adjacency_angles
        pairs = md.adjacency[(ang > _MIN_CURVED_ANGLE) & (ang < _MAX_CURVED_ANGLE)]
        c = cross(md.normals[pairs[:, 0]], md.normals[pairs[:, 1]])
        c /= row_norm(c)[:, None]
        found = md.cache["numpy_reference_curved_edges"] = (pairs, c)
    return found


def candidate_axes(md: MeshData, base_axes: FloatArray) -> FloatArray:
    """The box axes plus dominant cylinder axes found from curved mesh edges, (A, 3)."""
    base = canonical_axes(base_axes)
    _, c = _curved_edges(md)
    if len(c) == 0:
        return base
    c = canonical_axes(c)
    c = c[_all_columns(np.abs(c @ base.T) <= _AXIS_COS)]
    if len(c) < _MIN_AXIS_SUPPORT:
        return base
    # Densest ~3 degree cells first; each accepted axis absorbs the edges within 6 degrees.
    q = np.round(c * 20.0).astype(np.int64) + 20
    keys = (q[:, 0] * 41 + q[:, 1]) * 41 + q[:, 2]
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    free = np.ones(len(c), dtype=bool)
    extra: list[FloatArray] = []
    for cell in np.argsort(-counts, kind="stable"):
        if counts[cell] < _MIN_AXIS_SUPPORT or len(extra) >= _MAX_EXTRA_AXES:
            break
        in_cell = free & (inv == cell)
        if in_cell.sum() < _MIN_AXIS_SUPPORT:
            continue
        seed = c[in_cell].mean(axis=0)
        seed /= np.linalg.norm(seed)
        members = free & (np.abs(c @ seed) > np.cos(np.radians(6.0)))
        axis = c[members].mean(axis=0)
        extra.append(axis / np.linalg.norm(axis))
        free &= ~members
    if not extra:
        return base
    return np.vstack((base, np.array(extra)))


def from_mesh(md: MeshData, axes: FloatArray) -> tuple[Cylinders, np.ndarray]:
    """Fit cylinders to the mesh around the candidate axes, all axes in one vectorised pass.

    Each smoothly curved edge is given to the candidate axis its ``n1 x n2`` is parallel to;
    the graph nodes are (triangle, axis) so one triangle can border cylinders of two axes.

    Parameters
    ----------
    md : MeshData
    axes : (A, 3) float
        Candidate axis directions (see ``candidate_axes``).

    Returns
    -------
    cylinders : Cylinders
    face_label : (F,) int
        Index of the cylinder each triangle belongs to, -1 for none.
    """
    nf = len(md.faces)
    face_label = np.full(nf, -1, dtype=np.int64)
    axes = canonical_axes(axes)
    na = len(axes)
    ang = md.adjacency_angles
    cp, c = _curved_edges(md)
    if len(cp) == 0 or na == 0:
        return Cylinders.empty(), face_label
    n0, n1 = md.normals[cp[:, 0]], md.normals[cp[:, 1]]
    dots = np.abs(c @ axes.T)
    ax = np.argmax(dots, axis=1)
    a = axes[ax]
    ok = dots[np.arange(len(cp)), ax] > _AXIS_COS
    ok &= (np.abs(np.einsum("ij,ij->i", n0, a)) < _PERP_TOL) & (
        np.abs(np.einsum("ij,ij->i", n1, a)) < _PERP_TOL
    )
    # Width of each facet across the axis (along its tangent a x n): neighbours on one
    # cylinder are alike, a wall tangent to a fillet is much wider than the fillet's facets.
    # A narrow facet may still join a neighbour already on a cylinder (exporters often end a
    # fillet with a sliver facet), but a wide one never joins a narrow one.
    tri = md.triangles[cp]  # (m, 2, 3, 3)
    w0 = _spread(np.einsum("mkj,mj->mk", tri[:, 0], cross(a, n0)))
    w1 = _spread(np.einsum("mkj,mj->mk", tri[:, 1], cross(a, n1)))
    similar = np.maximum(w0, w1) <= WIDTH_RATIO * np.maximum(np.minimum(w0, w1), 1e-12)
    established = np.zeros(nf, dtype=bool)
    established[cp[ok & similar].ravel()] = True
    # ... and so is the coplanar twin of such a facet (a facet is usually two triangles).
    flat_all = md.adjacency[ang <= _MIN_CURVED_ANGLE]
    twin = flat_all[established[flat_all[:, 0]] | established[flat_all[:, 1]]]
    established[twin.ravel()] = True
    wider_on_cylinder = np.where(w0 >= w1, established[cp[:, 0]], established[cp[:, 1]])
    ok &= similar | wider_on_cylinder
    cp, ax = cp[ok], ax[ok]
    if len(cp) == 0:
        return Cylinders.empty(), face_label
    # Coplanar neighbours (the two triangles of one facet) join on the same axis, also when
    # only one of them has a curved edge (the other's neighbour may be a rejected wall).
    in_cyl = np.zeros(nf, dtype=bool)
    in_cyl[cp.ravel()] = True
    fp = flat_all[in_cyl[flat_all[:, 0]] | in_cyl[flat_all[:, 1]]]
    curved_a, curved_b = cp[:, 0] * na + ax, cp[:, 1] * na + ax
    # Node (face f, axis k) is f * na + k; a (faces x axes) table marks the curved ones.
    on_curve = np.zeros(nf * na, dtype=bool)
    on_curve[curved_a] = True
    on_curve[curved_b] = True
    on_curve = on_curve.reshape(nf, na)
    pair, k = np.nonzero(on_curve[fp[:, 0]] | on_curve[fp[:, 1]])
    node_a = np.concatenate((curved_a, fp[pair, 0] * na + k))
    node_b = np.concatenate((curved_b, fp[pair, 1] * na + k))
    used = np.zeros(nf * na, dtype=bool)
    used[node_a] = True
    used[node_b] = True
    nodes = np.flatnonzero(used)
    index_of = np.empty(nf * na, dtype=np.int64)
    index_of[nodes] = np.arange(len(nodes))
    ia, ib = index_of[node_a], index_of[node_b]
    _, comp = connected_labels(len(nodes), ia, ib)
    sizes = np.bincount(comp)
    big = sizes[comp] >= 2
    nodes, comp = nodes[big], comp[big]
    if len(nodes) == 0:
        return Cylinders.empty(), face_label
    # Renumber the surviving patches 0..K-1 in their order.
    comp = (np.cumsum(sizes >= 2) - 1)[comp]
    faces_idx = nodes // na
    comp_axis_id = np.zeros(int(comp.max()) + 1, dtype=np.int64)
    comp_axis_id[comp] = nodes % na
    fitted = _fit_patches(md, axes[comp_axis_id], faces_idx, comp)
    if fitted is None:
        return Cylinders.empty(), face_label
    labels, cyl = fitted
    kept = labels >= 0
    face_label[faces_idx[kept]] = labels[kept]
    return cyl, face_label


def _all_columns(mask: np.ndarray) -> np.ndarray:
    """(m,) rows of an (m, k) bool array that are all True (``mask.all(axis=1)`` for small k,
    column by column: reductions along a short axis are slow in numpy)."""
    out = mask[:, 0].copy()
    for j in range(1, mask.shape[1]):
        out &= mask[:, j]
    return out


def _spread(p: FloatArray) -> FloatArray:
    """(m,) max - min of each row of an (m, 3) array (``np.ptp(p, axis=1)``, column-wise)."""
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    return np.maximum(np.maximum(a, b), c) - np.minimum(np.minimum(a, b), c)


def _fit_patches(
    md: MeshData, comp_axes: FloatArray, faces_idx: np.ndarray, comp: np.ndarray
) -> tuple[np.ndarray, Cylinders] | None:
    """A circle fit per patch (faces ``faces_idx`` labelled ``comp`` 0..K-1, axis per patch).

    Returns the new label of each face (-1 where its patch is not a good circle) and the
    Cylinders of the good patches.
    """
    k = len(comp_axes)
    u, v = _orthonormal(comp_axes)
    # Distinct (patch, vertex) pairs: shared vertices counted once per patch.
    nv = len(md.vertices)
    pv = sorted_unique(np.repeat(comp, 3) * nv + md.faces[faces_idx].ravel())
    lab, verts = pv // nv, md.vertices[pv % nv]
    x = np.einsum("ij,ij->i", verts, u[lab])
    y = np.einsum("ij,ij->i", verts, v[lab])
    t = np.einsum("ij,ij->i", verts, comp_axes[lab])
    cnt = np.bincount(lab, minlength=k).astype(np.float64)
    mx = np.bincount(lab, x, k) / cnt
    my = np.bincount(lab, y, k) / cnt
    xc, yc = x - mx[lab], y - my[lab]
    z = xc * xc + yc * yc

    def s(w: FloatArray) -> FloatArray:
        return np.bincount(lab, w, k)

    m = np.empty((k, 3, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = s(xc * xc), s(xc * yc), s(xc)
    m[:, 1, 1], m[:, 1, 2] = s(yc * yc), s(yc)
    m[:, 1, 0], m[:, 2, 0], m[:, 2, 1] = m[:, 0, 1], m[:, 0, 2], m[:, 1, 2]
    m[:, 2, 2] = cnt
    rhs = -np.column_stack((s(xc * z), s(yc * z), s(z)))
    # Kasa fit: x^2 + y^2 + D x + E y + F = 0; collinear points (a flat strip) are singular.
    det = np.linalg.det(m)
    scale4 = np.maximum(s(z) / cnt, 1e-30) ** 2 * cnt**3
    good = (cnt >= 3) & (np.abs(det) > 1e-12 * scale4)
    sol = np.zeros((k, 3))
    if good.any():
        sol[good] = np.linalg.solve(m[good], rhs[good][:, :, None])[:, :, 0]
    cx, cy = -sol[:, 0] / 2.0, -sol[:, 1] / 2.0
    r2 = cx * cx + cy * cy - sol[:, 2]
    good &= r2 > 0
    r = np.sqrt(np.where(good, r2, 1.0))
    dx, dy = xc - cx[lab], yc - cy[lab]
    dist = np.hypot(dx, dy)
    resid = np.sqrt(np.bincount(lab, (dist - r[lab]) ** 2, k) / cnt)
    good &= resid <= 0.01 * r + 1e-4 * md.scale
    # Coverage: 2 pi minus the largest angular gap between the patch's vertices.
    theta = np.arctan2(dy, dx) % TWO_PI
    order = np.lexsort((theta, lab))
    ls, th = lab[order], theta[order]
    gap = np.zeros(k)
    same = ls[1:] == ls[:-1]
    np.maximum.at(gap, ls[1:][same], (th[1:] - th[:-1])[same])
    first_idx = np.searchsorted(ls, np.arange(k), side="left")
    last_idx = np.searchsorted(ls, np.arange(k), side="right") - 1
    wrap = th[first_idx] + TWO_PI - th[last_idx]
    coverage = TWO_PI - np.maximum(gap, wrap)
    # The axis point at t = 0, and concavity: facet normals pointing at the axis.
    origin = (mx + cx)[:, None] * u + (my + cy)[:, None] * v
    radial = md.centroids[faces_idx] - origin[comp]
    radial -= np.einsum("ij,ij->i", radial, comp_axes[comp])[:, None] * comp_axes[comp]
    facing = np.einsum("ij,ij->i", md.normals[faces_idx], radial) * md.areas[faces_idx]
    concave = np.bincount(comp, facing, k) < 0
    t0 = np.full(k, np.inf)
    t1 = np.full(k, -np.inf)
    np.minimum.at(t0, lab, t)
    np.maximum.at(t1, lab, t)
    good &= coverage > 0
    idx = np.flatnonzero(good)
    if len(idx) == 0:
        return None
    remap = np.full(k, -1, dtype=np.int64)
    remap[idx] = np.arange(len(idx))
    cyl = Cylinders(
        axis=comp_axes[idx],
        origin=origin[idx],
        radius=r[idx],
        t0=t0[idx],
        t1=t1[idx],
        coverage=coverage[idx],
        concave=concave[idx],
        area=r[idx] * coverage[idx] * (t1[idx] - t0[idx]),
    )
    return remap[comp], cyl


def hole_cylinders(cyl: Cylinders) -> Cylinders:
    """The cylinders that are holes: concave and (nearly) full circles."""
    return cyl.subset(cyl.concave & cyl.full)


def open_ends(cyl: Cylinders, md: MeshData) -> tuple[np.ndarray, np.ndarray]:
    """(K,) bool pairs: is each hole open at its low (t0) end, at its high (t1) end."""
    k = len(cyl)
    if k == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    axis = cyl.axis
    helper = np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = cross(axis, helper)
    u /= row_norm(u)[:, None]
    v = cross(axis, u)
    mid_t = (cyl.t0 + cyl.t1) / 2.0
    mid = cyl.point(mid_t)
    r = cyl.radius[:, None]
    ring = np.stack((u, -u, v, -v), axis=1) * (_RING * r)[:, :, None]  # (k, 4, 3)
    origins = (mid[:, None, :] + ring).reshape(-1, 3)
    origins = np.vstack((origins, origins))
    up = np.repeat(axis, _RAYS_PER_END, axis=0)
    directions = np.vstack((up, -up))
    _, dist = md.first_hit(origins, directions)
    dist = dist.reshape(2, k, _RAYS_PER_END)
    reach = (cyl.t1 - cyl.t0) / 2.0 + _END_SLACK * cyl.radius + 1e-4 * md.scale
    closed = (dist <= reach[None, :, None]).sum(axis=2) >= _RAYS_PER_END - 1
    return ~closed[1], ~closed[0]


def find_holes(
    cyl: Cylinders,
    md: MeshData,
    frame: RefFrame,
    match_drill: DrillMatcher | None = None,
) -> tuple[Hole, ...]:
    """Holes of the part.

    Parameters
    ----------
    cyl : Cylinders
        All cylindrical features (the holes are selected here).
    md : MeshData
        The mesh, for the open-end rays.
    frame : Frame
        The box frame: through holes are drilled from the side their axis points to in it
        (a vertical through hole from +Z, drilling along -Z).
    match_drill : callable, optional
        ``diameter_mm -> (standard_label, tap_thread)``, e.g. ``Catalog.match_drill``.

    Returns
    -------
    tuple of Hole
        Sorted by diameter, then position.
    """
    holes = hole_cylinders(cyl)
    if len(holes) == 0:
        return ()
    open_lo, open_hi = open_ends(holes, md)
    # Through holes: drill from the side the axis points to in the frame (its largest frame
    # component positive), so a vertical hole is drilled from the top.
    in_frame = holes.axis @ frame.rotation.T
    big = np.argmax(np.abs(in_frame), axis=1)
    frame_sign = np.where(in_frame[np.arange(len(holes)), big] < 0, -1.0, 1.0)
    out: list[Hole] = []
    for i in range(len(holes)):  # one Python step per hole, not per triangle
        through = bool(open_lo[i] and open_hi[i])
        if through:
            from_hi = frame_sign[i] > 0
        else:
            from_hi = bool(open_hi[i]) or not bool(open_lo[i])
        entry_t = holes.t1[i] if from_hi else holes.t0[i]
        drill = -holes.axis[i] if from_hi else holes.axis[i]
        entry = holes.origin[i] + holes.axis[i] * entry_t
        diameter = round(2.0 * float(holes.radius[i]), 4)
        standard, tap = match_drill(diameter) if match_drill is not None else (None, None)
        out.append(
            Hole(
                diameter_mm=diameter,
                depth_mm=round(float(holes.t1[i] - holes.t0[i]), 4),
                through=through,
                axis=_vec(drill),
                position_mm=_vec(entry),
                standard=standard,
                tap=tap,
            )
        )
    out.sort(key=lambda h: (h.diameter_mm, h.position_mm))
    return tuple(out)


def _vec(a: np.ndarray) -> tuple[float, float, float]:
    # + 0.0 turns -0.0 into 0.0 so the JSON reads cleanly.
    return (round(float(a[0]), 6) + 0.0, round(float(a[1]), 6) + 0.0, round(float(a[2]), 6) + 0.0)


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
    similar = np.maximum(w0, w1) <= WIDTH_RATIO * np.maximum(np.minimum(w0, w1), 1e-12)
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


# Parts the comparisons run on: generated parts (known features), real meshes (tessellations
# of every kind: curved, rotated frames, inch files) and rotated copies (no file axis applies).
REAL_MESHES = {
    "plate_holes.STL": None,
    "idler_riser.STL": None,
    "round.stl": None,
    "angle_block.STL": None,
    "featuretype.STL": "inch",
    "fandisk.obj": None,
}


def reference_meshes(directory: Path) -> dict[str, trimesh.Trimesh]:
    """Body meshes as the loader hands them on, by name (generated parts written to
    ``directory``)."""
    from quote.corpus import generate_corpus
    from quote.geometry.loading import load_part
    from tests.conftest import SHARED_PARTS
    from tests.quote.partlib import KNOWN, write_part

    out: dict[str, trimesh.Trimesh] = {}
    for name in KNOWN:
        out[name] = load_part(write_part(name, directory, "stl")).bodies[0].mesh
    for name, units in REAL_MESHES.items():
        found = sorted(SHARED_PARTS.rglob(name))
        if not found:
            raise FileNotFoundError(f"reference part {name} missing under {SHARED_PARTS}")
        out[name] = load_part(found[0], units=units).bodies[0].mesh
    for name, mesh in generate_corpus(8, random_state=7):
        out[name] = mesh
    turn = trimesh.transformations.rotation_matrix(0.5, [1.0, 2.0, 3.0])
    for name in ("plate_with_holes", "flange", "stepped_shaft"):
        out[name + "_rotated"] = out[name].copy().apply_transform(turn)
    return out
