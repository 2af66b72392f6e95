"""Cylindrical surfaces of a part: holes, inner fillets, turned diameters.

Two sources give the same table:

* exact B-rep (STEP): cylindrical faces, merged when they lie on the same axis line with the same
  radius and touching axial ranges (CAD kernels split a hole into two half-cylinders);
* triangle meshes (STL, OBJ, ...): facets whose normals are perpendicular to a candidate axis
  and that bend around it are grouped into connected patches, and a circle is fitted through
  the patch's vertices projected along the axis (exporters place vertices on the true surface,
  so the fit recovers the exact radius). Candidate axes are the box frame's axes plus the
  dominant directions of ``n1 x n2`` over smoothly curved edges (the axis of any cylinder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quote.geometry.brep import CylinderFaces
from quote.geometry.meshdata import (
    MeshData,
    canonical_axes,
    connected_labels,
    cross,
    row_norm,
    sorted_unique,
)

FloatArray = np.ndarray

TWO_PI = 2.0 * np.pi
# A cylinder covering at least this angle is a hole (or a full turned diameter); less is an arc
# (a fillet, a slot end).
FULL_COVERAGE = TWO_PI - np.pi / 3.0
# Mesh edges bending less than this are tessellated curvature, more are real edges (an octagon's
# 45 degree corners are edges; a 12-sided hole's 30 degree steps are still a hole).
_MAX_CURVED_ANGLE = np.radians(40.0)
_MIN_CURVED_ANGLE = 1e-4
# Facet normal perpendicular to the axis within ~1.7 degrees (float32 STL normals).
_PERP_TOL = 0.03
# n1 x n2 parallel to the axis within 3 degrees.
_AXIS_COS = np.cos(np.radians(3.0))
# Neighbouring facets of one cylinder have similar widths across the axis; a wall tangent to a
# fillet is far wider than the fillet's facets and must not join it.
_WIDTH_RATIO = 3.0
_MAX_EXTRA_AXES = 8
_MIN_AXIS_SUPPORT = 6


@dataclass(frozen=True)
class Cylinders:
    """Cylindrical features, one row each.

    axis : (K, 3) unit axis, sign-normalised (largest component positive).
    origin : (K, 3) a point of the axis line, mm; axial coordinates are measured from it.
    radius : (K,) mm.
    t0, t1 : (K,) axial extent along ``axis`` from ``origin``, mm.
    coverage : (K,) angle covered around the axis, radians (2 pi for a full hole).
    concave : (K,) True when the material is outside (holes, inner fillets), False for bosses.
    area : (K,) lateral area, mm^2 (from the fitted radius and coverage).
    """

    axis: FloatArray
    origin: FloatArray
    radius: FloatArray
    t0: FloatArray
    t1: FloatArray
    coverage: FloatArray
    concave: np.ndarray
    area: FloatArray

    def __len__(self) -> int:
        return len(self.radius)

    @property
    def full(self) -> np.ndarray:
        """(K,) bool: covers (nearly) the whole circle."""
        return self.coverage >= FULL_COVERAGE

    @property
    def length(self) -> FloatArray:
        return self.t1 - self.t0

    def point(self, t: FloatArray) -> FloatArray:
        """(K, 3) points of each axis at axial coordinates ``t`` (K,), mm."""
        return self.origin + self.axis * np.asarray(t)[:, None]

    def subset(self, mask: np.ndarray) -> Cylinders:
        return Cylinders(
            self.axis[mask],
            self.origin[mask],
            self.radius[mask],
            self.t0[mask],
            self.t1[mask],
            self.coverage[mask],
            self.concave[mask],
            self.area[mask],
        )

    @classmethod
    def empty(cls) -> Cylinders:
        z = np.zeros(0)
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), z, z, z, z, np.zeros(0, bool), z)


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
    found = md.cache.get("curved_edges")
    if found is None:
        ang = md.adjacency_angles
        pairs = md.adjacency[(ang > _MIN_CURVED_ANGLE) & (ang < _MAX_CURVED_ANGLE)]
        c = cross(md.normals[pairs[:, 0]], md.normals[pairs[:, 1]])
        c /= row_norm(c)[:, None]
        found = md.cache["curved_edges"] = (pairs, c)
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
    similar = np.maximum(w0, w1) <= _WIDTH_RATIO * np.maximum(np.minimum(w0, w1), 1e-12)
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
