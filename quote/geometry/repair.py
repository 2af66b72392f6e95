"""Checking and repairing triangle meshes: what is safely repairable is fixed and said so.

The check is one compiled pass over the edge list (open, non-manifold and inconsistently wound
edges, and the triangle adjacency the feature stage reads next), so a mesh that is already
closed and consistently wound costs a fraction of its parse and nothing else runs. Repairs, in
order, each reported in plain words:

1. triangles with a repeated vertex (zero area) and duplicated triangles are removed;
2. vertices closer than a tolerance are merged when the mesh is open (exporters that write
   float32 or round coordinates leave hair-line gaps);
3. small holes (one missing triangle, or a loop under 1% of the surface area and 15% of the
   part's diagonal) are closed by a fan of triangles; larger openings are left, and the
   caller refuses the part;
4. triangles wound against their neighbours are turned (trimesh's breadth-first fix).

Outward orientation is decided per shell by the caller (``bodies.py``), because an inner shell
wound inwards is a void, not a mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh

from quote.geometry.topology import edge_topology

FloatArray = np.ndarray
IntArray = np.ndarray

# Hole filling: a boundary loop of 3 vertices is one missing triangle (only one way to fill
# it); a longer loop is "small" when it spans at most this share of the part's diagonal and
# covers at most this share of its surface area (a missing cap or face is neither).
_SMALL_HOLE_DIAG_SHARE = 0.15
_SMALL_HOLE_AREA_SHARE = 0.01
# Beyond this many open edges the mesh is a surface model, not a solid with a few gaps.
_MAX_OPEN_EDGES_TO_FILL = 20_000
# Tolerance for merging near vertices, relative to the part diagonal.
_MERGE_TOLERANCE_SHARE = 1e-5


@dataclass(frozen=True)
class EdgeReport:
    """Topology of a triangle mesh's edges.

    open_edges : edges used by one triangle only (border of a hole).
    nonmanifold_edges : edges used by more than two triangles.
    inconsistent_edges : edges whose two triangles run along it in the same direction
        (one of them is wound the wrong way).
    open_mask : (3F,) bool, True for the directed face edges (face-major order, edges 01, 12,
        20) that lie on an open edge.
    adjacency, adjacency_edges : (E, 2) int, the pairs of triangles sharing an edge and the
        shared edges (``topology.face_adjacency``), handed on to the feature stage.
    """

    open_edges: int
    nonmanifold_edges: int
    inconsistent_edges: int
    open_mask: np.ndarray = field(repr=False)
    adjacency: np.ndarray = field(repr=False)
    adjacency_edges: np.ndarray = field(repr=False)

    @property
    def closed(self) -> bool:
        """Every edge is shared by exactly two triangles or more (no border)."""
        return self.open_edges == 0

    @property
    def consistent(self) -> bool:
        """Neighbouring triangles are wound the same way."""
        return self.inconsistent_edges == 0


def edge_report(faces: IntArray, n_vertices: int) -> EdgeReport:
    """Count open, non-manifold and inconsistently wound edges in one pass.

    Parameters
    ----------
    faces : (F, 3) int
        Triangle vertex indices.
    n_vertices : int
        Number of vertices.
    """
    (n_open, n_nonmanifold, n_inconsistent), open_mask, adjacency, edges = edge_topology(
        faces, n_vertices
    )
    return EdgeReport(
        open_edges=n_open,
        nonmanifold_edges=n_nonmanifold,
        inconsistent_edges=n_inconsistent,
        open_mask=open_mask,
        adjacency=adjacency,
        adjacency_edges=edges,
    )


def degenerate_mask(faces: IntArray) -> np.ndarray:
    """(F,) bool: triangles that use one vertex twice (zero area after vertex merging)."""
    return (
        (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    )


def duplicate_mask(faces: IntArray) -> np.ndarray:
    """(F,) bool: triangles to drop because they repeat others on the same three vertices.

    Copies wound the same way are kept once. Copies wound both ways are back-to-back walls
    (the double wall between two solids exported touching, or a two-sided sheet) and cancel
    in pairs: what is left is one copy of the majority winding, or none.
    """
    ordered = np.sort(faces, axis=1)
    # A triangle wound like its sorted vertex order is an even permutation of it.
    even = (
        (faces == ordered).all(axis=1)
        | (faces == np.roll(ordered, 1, axis=1)).all(axis=1)
        | (faces == np.roll(ordered, 2, axis=1)).all(axis=1)
    )
    _, group, counts = np.unique(ordered, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    drop = counts[group] > 1
    if not drop.any():
        return drop
    n_even = np.bincount(group, weights=even, minlength=len(counts))
    n_odd = counts - n_even
    # Keep the first triangle of the winding that outnumbers the other, per group.
    want_even = n_even > n_odd
    want_any = n_even != n_odd
    candidate = drop & want_any[group] & (even == want_even[group])
    idx = np.flatnonzero(candidate)
    _, first = np.unique(group[idx], return_index=True)
    drop[idx[first]] = False
    return drop


def triangle_areas(vertices: FloatArray, faces: IntArray) -> FloatArray:
    """(F,) float: triangle areas, mm^2."""
    tri = vertices[faces]
    return np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2.0


def merge_close_vertices(
    vertices: FloatArray, faces: IntArray, tolerance: float
) -> tuple[FloatArray, IntArray]:
    """Merge vertices that round to the same grid point of size ``tolerance`` (mm)."""
    grid = np.round(vertices / tolerance).astype(np.int64)
    _, first, inverse = np.unique(grid, axis=0, return_index=True, return_inverse=True)
    return vertices[first], inverse.reshape(-1)[faces]


def boundary_loops(faces: IntArray, open_mask: np.ndarray) -> list[list[int]]:
    """Closed loops of vertex indices along the open edges, in face-edge direction.

    Each loop ``[v0, v1, ...]`` follows the directed edges of the triangles around the hole
    (``v0 -> v1`` is an edge of some triangle). A loop that cannot be closed (a pinched or
    branching border) is returned as far as it was followed.
    """
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)[open_mask]
    outgoing: dict[int, list[int]] = {}
    for a, b in directed.tolist():
        outgoing.setdefault(a, []).append(b)
    loops: list[list[int]] = []
    for start in list(outgoing):
        while outgoing.get(start):
            loop = [start]
            current = outgoing[start].pop()
            while current != start:
                loop.append(current)
                nxt = outgoing.get(current)
                if not nxt:
                    break
                current = nxt.pop()
            loops.append(loop)
    return loops


def _loop_area(points: FloatArray) -> float:
    # Vector area of a closed polygon: half the norm of the summed cross products.
    return float(0.5 * np.linalg.norm(np.cross(points, np.roll(points, -1, axis=0)).sum(axis=0)))


def fill_small_holes(
    vertices: FloatArray, faces: IntArray, report: EdgeReport
) -> tuple[IntArray, int, float]:
    """Close small holes with a fan of triangles wound like their neighbours.

    Parameters
    ----------
    vertices : (V, 3) float, mm. faces : (F, 3) int. report : the faces' EdgeReport.

    Returns
    -------
    faces : (F', 3) int
        The faces with the fans appended.
    filled : int
        Number of holes closed.
    largest_mm : float
        Box diagonal of the largest hole closed, mm.
    """
    if report.open_edges == 0 or report.open_edges > _MAX_OPEN_EDGES_TO_FILL:
        return faces, 0, 0.0
    diag = float(np.linalg.norm(np.ptp(vertices, axis=0)))
    tri = vertices[faces]
    total_area = float(
        np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum() / 2
    )
    new_faces: list[list[int]] = []
    filled = 0
    largest = 0.0
    for loop in boundary_loops(faces, report.open_mask):
        if len(loop) < 3:
            continue
        pts = vertices[loop]
        size = float(np.linalg.norm(np.ptp(pts, axis=0)))
        small = len(loop) == 3 or (
            size <= _SMALL_HOLE_DIAG_SHARE * diag
            and _loop_area(pts) <= _SMALL_HOLE_AREA_SHARE * total_area
        )
        if not small:
            continue
        # The loop runs along the triangles' own edge directions, so the patch runs backwards.
        v0 = loop[0]
        new_faces.extend([v0, loop[i + 1], loop[i]] for i in range(1, len(loop) - 1))
        filled += 1
        largest = max(largest, size)
    if not new_faces:
        return faces, 0, 0.0
    return np.vstack([faces, np.asarray(new_faces, dtype=faces.dtype)]), filled, largest


def _fix_winding(vertices: FloatArray, faces: IntArray) -> tuple[IntArray, int]:
    """Make neighbours agree on winding, turning the minority of each shell.

    trimesh's breadth-first fix keeps the first triangle of each shell and may turn the
    majority; turning a shell back when most of it changed keeps the fix (and the count
    reported) to the triangles that were really wrong. Outward orientation is decided later.
    """
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False, validate=False)
    trimesh.repair.fix_winding(mesh)
    fixed = np.array(mesh.faces)
    changed = ~_same_winding(fixed, faces)
    labels = trimesh.graph.connected_component_labels(mesh.face_adjacency, node_count=len(faces))
    size = np.bincount(labels)
    n_changed = np.bincount(labels, weights=changed, minlength=len(size))
    majority = np.flatnonzero(n_changed > size / 2)
    if len(majority):
        turn = np.isin(labels, majority)
        fixed[turn] = fixed[turn][:, ::-1]
        changed = ~_same_winding(fixed, faces)
    return fixed, int(changed.sum())


def _same_winding(a: IntArray, b: IntArray) -> np.ndarray:
    """(F,) bool: row i of ``a`` is a cyclic rotation of row i of ``b`` (same winding)."""
    return (
        (a == b).all(axis=1)
        | (a == np.roll(b, 1, axis=1)).all(axis=1)
        | (a == np.roll(b, 2, axis=1)).all(axis=1)
    )


@dataclass
class CleanMesh:
    """A mesh after ``clean_mesh``: arrays, what was done, and what is still wrong.

    vertices : (V, 3) float, mm. faces : (F, 3) int.
    keep : (F_in,) bool or None: which input triangles survive, in order, before any appended
        hole-filling triangles (None when all survive and none were added).
    actions : plain-words repairs, e.g. "removed 12 degenerate triangles".
    report : EdgeReport of the result.
    """

    vertices: FloatArray
    faces: IntArray
    keep: np.ndarray | None
    actions: list[str]
    report: EdgeReport


def clean_mesh(
    vertices: FloatArray,
    faces: IntArray,
    *,
    fill_holes: bool = True,
    report_routine: bool = True,
) -> CleanMesh:
    """Remove degenerate and duplicate triangles, close small gaps, fix winding.

    Parameters
    ----------
    vertices : (V, 3) float
        Vertex positions, mm (already merged where exactly equal).
    faces : (F, 3) int
        Triangles.
    fill_holes : bool
        Try vertex merging and small-hole filling when the mesh is open.
    report_routine : bool
        Report removal of degenerate and duplicate triangles (False for our own STEP
        tessellation, where they are an artefact of meshing, not a defect of the file).

    Returns
    -------
    CleanMesh
    """
    actions: list[str] = []
    faces = np.asarray(faces)
    n_in = len(faces)
    keep = ~degenerate_mask(faces)
    n_degenerate = int(n_in - keep.sum())
    if n_degenerate:
        faces = faces[keep]
        if report_routine:
            actions.append(f"removed {n_degenerate} degenerate triangles (a repeated vertex)")
    report = edge_report(faces, len(vertices))
    if report.nonmanifold_edges:
        # A duplicated triangle makes its edges non-manifold, so only then is it looked for.
        dup = duplicate_mask(faces)
        if dup.any():
            idx = np.flatnonzero(keep)
            keep[idx[dup]] = False
            faces = faces[~dup]
            report = edge_report(faces, len(vertices))
            if report_routine:
                actions.append(f"removed {int(dup.sum())} duplicate or back-to-back triangles")
    if not report.closed and fill_holes:
        diag = float(np.linalg.norm(np.ptp(vertices, axis=0)))
        tol = max(_MERGE_TOLERANCE_SHARE * diag, 1e-9)
        merged_v, merged_f = merge_close_vertices(vertices, faces, tol)
        ok = ~degenerate_mask(merged_f)
        merged_f = merged_f[ok]
        merged_report = edge_report(merged_f, len(merged_v))
        if merged_report.open_edges < report.open_edges:
            actions.append(
                f"merged vertices closer than {tol:.2g} mm, closing "
                f"{report.open_edges - merged_report.open_edges} open edges"
            )
            idx = np.flatnonzero(keep)
            keep[idx[~ok]] = False
            vertices, faces, report = merged_v, merged_f, merged_report
        if not report.closed:
            filled_faces, n_holes, largest = fill_small_holes(vertices, faces, report)
            if n_holes:
                faces = filled_faces
                report = edge_report(faces, len(vertices))
                actions.append(
                    f"filled {n_holes} small holes (the largest {largest:.3g} mm across)"
                )
    if not report.consistent:
        faces, flipped = _fix_winding(vertices, faces)
        report = edge_report(faces, len(vertices))
        if flipped:
            actions.append(f"re-wound {flipped} triangles that faced against their neighbours")
    n_kept = int(keep.sum())
    keep_out = None if (n_kept == n_in and len(faces) == n_in) else keep
    return CleanMesh(vertices=vertices, faces=faces, keep=keep_out, actions=actions, report=report)
