"""Cylindrical surfaces of a part: holes, inner fillets, turned diameters.

Two sources give the same table:

* exact B-rep (STEP): cylindrical faces, merged when they lie on the same axis line with the same
  radius and touching axial ranges (CAD kernels split a hole into two half-cylinders);
* triangle meshes (STL, OBJ, ...): facets whose normals are perpendicular to a candidate axis
  and that bend around it are grouped into connected patches, and a circle is fitted through
  the patch's vertices projected along the axis (exporters place vertices on the true surface,
  so the fit recovers the exact radius). Candidate axes are the box frame's axes plus the
  dominant directions of ``n1 x n2`` over smoothly curved edges (the axis of any cylinder).

The loops over edges, patches and vertices are numba kernels (numpy's per-call overhead on
arrays of a few thousand rows cost ten times the arithmetic). Their results are compared with
answers known by construction within named tolerances (``tests/quote/test_cylinders.py``),
never bit for bit: another CPU or BLAS may round a product differently.

This module is the front (the table, the B-rep merge and the mesh entry points); the mesh
kernels live by step: ``cylinder_axes`` (candidate axes from curved edges),
``cylinder_patches`` (connected curved-facet patches), ``circle_fit`` (a circle per patch) and
``vec3`` (the inlined 3-vector helpers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from quote.geometry.brep import CylinderFaces
from quote.geometry.circle_fit import TWO_PI, circle_features, patch_circles
from quote.geometry.cylinder_axes import axes_with_dominant, canonical_rows, curved_pairs
from quote.geometry.meshdata import MeshData

FloatArray = np.ndarray

# A cylinder covering at least this angle is a hole (or a full turned diameter); less is an arc
# (a fillet, a slot end).
FULL_COVERAGE = TWO_PI - np.pi / 3.0


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
    if len(faces.radius) == 0:
        return Cylinders.empty()
    first, lo, hi, span = _merge_ranges(
        np.asarray(faces.axis, dtype=np.float64),
        np.asarray(faces.origin, dtype=np.float64),
        np.asarray(faces.radius, dtype=np.float64),
        np.asarray(faces.t0, dtype=np.float64),
        np.asarray(faces.t1, dtype=np.float64),
        np.asarray(faces.span, dtype=np.float64),
        np.asarray(faces.concave, dtype=np.bool_),
        float(tol),
    )
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


@njit(cache=True, nogil=True)
def _merge_ranges(
    axis: FloatArray,
    origin: FloatArray,
    radius: FloatArray,
    t0: FloatArray,
    t1: FloatArray,
    span: FloatArray,
    concave: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, FloatArray, FloatArray, FloatArray]:
    """Features of ``from_brep``: the first face of each (sorted by axis line, radius and
    start), its axial range and its coverage (capped at a full turn), (k,) each."""
    n = len(radius)
    # One integer key per face: axis (1e-3), axis point and radius (tol), concavity.
    key = np.empty((n, 8), dtype=np.int64)
    for i in range(n):
        for j in range(3):
            key[i, j] = np.int64(np.rint(axis[i, j] * 1e3))
            key[i, 3 + j] = np.int64(np.rint(origin[i, j] / tol))
        key[i, 6] = np.int64(np.rint(radius[i] / tol))
        key[i, 7] = 1 if concave[i] else 0
    # Sort by key (lexicographic), then start, then index: stable sorts from the last criterion.
    order = np.argsort(t0, kind="mergesort")
    column = np.empty(n, dtype=np.int64)
    for j in range(7, -1, -1):
        for i in range(n):
            column[i] = key[order[i], j]
        order = order[np.argsort(column, kind="mergesort")]
    # A new feature starts with a new key or where the range does not touch the last one.
    feature = np.empty(n, dtype=np.int64)
    current = -1
    running_end = 0.0
    for i in range(n):
        o = order[i]
        new = i == 0 or t0[o] > running_end + tol
        if not new:
            p = order[i - 1]
            for j in range(8):
                if key[o, j] != key[p, j]:
                    new = True
                    break
        if new:
            current += 1
            running_end = t1[o]
        else:
            running_end = max(running_end, t1[o])
        feature[i] = current
    k = current + 1
    first = np.full(k, -1, dtype=np.int64)
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    covered = np.zeros(k)
    for i in range(n):
        o, f = order[i], feature[i]
        if first[f] < 0:
            first[f] = o
        lo[f] = min(lo[f], t0[o])
        hi[f] = max(hi[f], t1[o])
        covered[f] += span[o]
    for f in range(k):
        covered[f] = min(covered[f], TWO_PI)
    return first, lo, hi, covered


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


def _curved_edges(md: MeshData) -> tuple[np.ndarray, FloatArray]:
    """Triangle pairs meeting at a smoothly curved edge, (m, 2), and the unit ``n1 x n2`` of
    each (the axis the surface bends around), (m, 3); computed once per mesh."""
    found = md.cache.get("curved_edges")
    if found is None:
        found = md.cache["curved_edges"] = curved_pairs(
            md.adjacency, md.adjacency_angles, md.normals
        )
    return found


def candidate_axes(md: MeshData, base_axes: FloatArray) -> FloatArray:
    """The box axes plus dominant cylinder axes found from curved mesh edges, (A, 3)."""
    _, c = _curved_edges(md)
    return axes_with_dominant(np.asarray(base_axes, dtype=np.float64).reshape(-1, 3), c)


def from_mesh(md: MeshData, axes: FloatArray) -> tuple[Cylinders, np.ndarray]:
    """Fit cylinders to the mesh around the candidate axes, all axes in one pass.

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
    axes = canonical_rows(np.asarray(axes, dtype=np.float64).reshape(-1, 3))
    cp, c = _curved_edges(md)
    if len(cp) == 0 or len(axes) == 0:
        return Cylinders.empty(), np.full(len(md.faces), -1, dtype=np.int64)
    return _fit_patches(md, axes, cp, c)


def _fit_patches(
    md: MeshData, axes: FloatArray, cp: np.ndarray, c: FloatArray
) -> tuple[Cylinders, np.ndarray]:
    """A circle fit per patch of curved facets (``curved_patches``) around its axis.

    Returns the Cylinders of the good patches and each triangle's cylinder (-1 for none).
    """
    faces_idx, comp, comp_axes, lab, t, cnt, good, r, origin, dx, dy, dist = patch_circles(
        md.normals,
        md.triangles,
        md.adjacency,
        md.adjacency_angles,
        cp,
        c,
        axes,
        md.vertices,
        md.faces,
    )
    if len(faces_idx) == 0:
        return Cylinders.empty(), np.full(len(md.faces), -1, dtype=np.int64)
    theta = np.arctan2(dy, dx) % TWO_PI
    face_label, axis, origin, radius, t0, t1, coverage, concave, area = circle_features(
        lab,
        dist,
        theta,
        t,
        cnt,
        good,
        r,
        origin,
        comp_axes,
        faces_idx,
        comp,
        md.centroids,
        md.normals,
        md.areas,
        md.scale,
    )
    if len(radius) == 0:
        return Cylinders.empty(), face_label
    return Cylinders(axis, origin, radius, t0, t1, coverage, concave, area), face_label
