"""From shells to bodies: split a mesh into shells, turn them outward, join those that touch.

A file can hold several solids. Those that touch or overlap make one part (a welded or bolted
assembly quoted as one piece); separate ones are separate line items. A shell inside another is
either a void (wound inwards) or an embedded solid (wound outwards, merged by a boolean union).

Tests are cheap first: axis-aligned boxes must overlap (within ``tol``) before any distance
query runs, and only the vertices and edges inside the boxes' overlap are queried. Touching is
"a vertex of one lies on the other's surface" (face-to-face contact); intersecting is "an edge
of one crosses the other's surface" (embree ray queries).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import trimesh
from numba import njit

from quote.geometry.measures import signed_volume, used_box
from quote.geometry.union_find import component_labels

FloatArray = np.ndarray
IntArray = np.ndarray

# Most points and edges queried per pair of pieces (deterministic subsample beyond this).
_MAX_QUERY_POINTS = 4000
_MAX_QUERY_EDGES = 20000
# Shells overlap when their union encloses this share less than the sum of their volumes.
_OVERLAP_SHARE = 1e-4


@dataclass
class Piece:
    """One closed shell (mesh) or one STEP solid, with what grouping needs.

    vertices : (V, 3) float, mm. faces : (F, 3) int.
    volume : signed enclosed volume, mm^3 (negative: wound inwards).
    lo, hi : (3,) float, corners of the axis-aligned box, mm.
    source : index of the file object (mesh object or STEP solid) it came from.
    order : position of its first triangle in the file (keeps bodies in file order).
    brep_face : (F,) int or None: for STEP, the index of the B-rep face each triangle meshes,
        in ``TopExp_Explorer(solid, TopAbs_FACE)`` order (-1 for triangles added by repair).
    open_edges : edges with one triangle (0 for a closed shell).
    adjacency : ``topology.face_adjacency(faces, len(vertices))`` when known (from the mesh
        check), else None; turning every triangle over leaves it as it is.
    """

    vertices: FloatArray
    faces: IntArray
    volume: float
    lo: FloatArray
    hi: FloatArray
    source: int
    order: int
    brep_face: IntArray | None = None
    open_edges: int = 0
    adjacency: tuple[IntArray, IntArray] | None = field(default=None, repr=False, compare=False)

    @property
    def diagonal(self) -> float:
        return float(np.linalg.norm(self.hi - self.lo))

    def mesh(self) -> trimesh.Trimesh:
        return trimesh.Trimesh(
            vertices=self.vertices, faces=self.faces, process=False, validate=False
        )


def make_piece(
    vertices: FloatArray,
    faces: IntArray,
    *,
    source: int,
    order: int,
    brep_face: IntArray | None = None,
    open_edges: int = 0,
    adjacency: tuple[IntArray, IntArray] | None = None,
) -> Piece:
    """A Piece with its volume and box (of the vertices its triangles use) computed."""
    lo, hi = used_box(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
    )
    return Piece(
        vertices=vertices,
        faces=faces,
        volume=signed_volume(vertices, faces),
        lo=lo,
        hi=hi,
        source=source,
        order=order,
        brep_face=brep_face,
        open_edges=open_edges,
        adjacency=adjacency,
    )


def shell_labels(vertices: FloatArray, faces: IntArray, *, manifold_only: bool = False) -> IntArray:
    """(F,) int: the connected shell each triangle belongs to.

    By default triangles are connected through shared vertices (one compiled union-find pass
    over the vertices; shells numbered by their smallest vertex). With ``manifold_only`` they
    are connected only across edges shared by exactly two triangles, which separates closed
    shells that touch along an edge or a face and were welded together by vertex merging.
    """
    if manifold_only:
        mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False, validate=False)
        return trimesh.graph.connected_component_labels(mesh.face_adjacency, len(faces))
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise IndexError(f"a triangle uses a vertex outside the {len(vertices)} vertices")
    return _vertex_shells(faces, len(vertices))


@njit(cache=True, nogil=True)
def _vertex_shells(faces: IntArray, n_vertices: int) -> IntArray:
    """Per triangle, the component of its vertices in the graph of triangle edges."""
    nf = faces.shape[0]
    a = np.empty(2 * nf, dtype=np.int64)
    b = np.empty(2 * nf, dtype=np.int64)
    for f in range(nf):
        a[f], b[f] = faces[f, 0], faces[f, 1]
        a[nf + f], b[nf + f] = faces[f, 1], faces[f, 2]
    _, labels = component_labels(n_vertices, a, b, np.ones(2 * nf, dtype=np.bool_))
    out = np.empty(nf, dtype=np.int64)
    for f in range(nf):
        out[f] = labels[faces[f, 0]]
    return out


def split_shells(
    vertices: FloatArray,
    faces: IntArray,
    *,
    source: int,
    order_offset: int = 0,
    brep_face: IntArray | None = None,
    labels: IntArray | None = None,
    adjacency: tuple[IntArray, IntArray] | None = None,
) -> list[Piece]:
    """Split a mesh into connected shells.

    Parameters
    ----------
    vertices : (V, 3) float, mm. faces : (F, 3) int.
    source : index of the file object the mesh came from.
    order_offset : triangle index of this mesh's first triangle in the file.
    brep_face : (F,) int or None, carried along per triangle.
    labels : (F,) int shell labels (``shell_labels``); computed through shared vertices when
        None.
    adjacency : the faces' ``topology.face_adjacency``, kept on the piece when the mesh is one
        shell.
    """
    if len(faces) == 0:
        return []
    face_label = shell_labels(vertices, faces) if labels is None else labels
    if face_label.min() == face_label.max():
        return [
            make_piece(
                vertices,
                faces,
                source=source,
                order=order_offset,
                brep_face=brep_face,
                adjacency=adjacency,
            )
        ]
    pieces = []
    present = np.unique(face_label)
    by_label = np.argsort(face_label, kind="stable")
    bounds = np.searchsorted(face_label[by_label], present)
    for k, start in enumerate(bounds):
        stop = bounds[k + 1] if k + 1 < len(bounds) else len(by_label)
        fidx = by_label[start:stop]
        sub = faces[fidx]
        used, inverse = np.unique(sub, return_inverse=True)
        pieces.append(
            make_piece(
                vertices[used],
                inverse.reshape(-1, 3),
                source=source,
                order=order_offset + int(fidx.min()),
                brep_face=None if brep_face is None else brep_face[fidx],
            )
        )
    pieces.sort(key=lambda p: p.order)
    return pieces


def _box_inside(inner: Piece, outer: Piece, tol: float) -> bool:
    return bool(np.all(inner.lo >= outer.lo - tol) and np.all(inner.hi <= outer.hi + tol))


def _subsample(n: int, limit: int) -> np.ndarray:
    # Deterministic and spread over the whole array (vertices come in file order).
    if n <= limit:
        return np.arange(n)
    return np.linspace(0, n - 1, limit).astype(np.int64)


def _surfaces_meet(a: Piece, b: Piece, tol: float, b_mesh: trimesh.Trimesh) -> bool:
    """True when a vertex of ``a`` lies within ``tol`` of ``b`` or an edge of ``a`` crosses it."""
    lo = np.maximum(a.lo, b.lo) - tol
    hi = np.minimum(a.hi, b.hi) + tol
    inside = np.all((a.vertices >= lo) & (a.vertices <= hi), axis=1)
    points = a.vertices[inside]
    if len(points):
        points = points[_subsample(len(points), _MAX_QUERY_POINTS)]
        _, dist, _ = trimesh.proximity.closest_point(b_mesh, points)
        if float(dist.min()) <= tol:
            return True
    edges = a.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    p0 = a.vertices[edges[:, 0]]
    p1 = a.vertices[edges[:, 1]]
    seg_lo = np.minimum(p0, p1)
    seg_hi = np.maximum(p0, p1)
    cand = np.all((seg_lo <= hi) & (seg_hi >= lo), axis=1)
    if not cand.any():
        return False
    idx = np.flatnonzero(cand)
    idx = idx[_subsample(len(idx), _MAX_QUERY_EDGES)]
    vec = p1[idx] - p0[idx]
    length = np.linalg.norm(vec, axis=1)
    ok = length > 0
    if not ok.any():
        return False
    origins = p0[idx][ok]
    dirs = vec[ok] / length[ok, None]
    locations, ray_index, _ = b_mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
    if len(ray_index) == 0:
        return False
    hit = np.linalg.norm(locations - origins[ray_index], axis=1)
    return bool(np.any(hit <= length[ok][ray_index] + tol))


def overlapping_pairs(pieces: list[Piece], tol: float) -> np.ndarray:
    """(K, 2) int: pairs ``i < j`` whose boxes overlap within ``tol`` (vectorised, in blocks)."""
    if len(pieces) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    lo = np.array([p.lo for p in pieces]) - tol
    hi = np.array([p.hi for p in pieces]) + tol
    found = []
    block = 512
    for start in range(0, len(pieces), block):
        a_lo, a_hi = lo[start : start + block, None, :], hi[start : start + block, None, :]
        hit = np.all(a_lo <= hi[None, :, :], axis=2) & np.all(lo[None, :, :] <= a_hi, axis=2)
        i, j = np.nonzero(hit)
        i = i + start
        keep = i < j
        found.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(found)


@dataclass
class Relations:
    """How pieces sit relative to each other.

    inside : ``inside[i]`` lists the pieces that contain piece i.
    pairs : (K, 2) pairs of pieces whose boxes overlap (the only ones that can touch).
    meshes : trimesh objects built for ray queries, reused by ``group``.
    """

    inside: list[list[int]]
    pairs: np.ndarray
    meshes: dict[int, trimesh.Trimesh]

    def mesh(self, pieces: list[Piece], k: int) -> trimesh.Trimesh:
        if k not in self.meshes:
            self.meshes[k] = pieces[k].mesh()
        return self.meshes[k]


def containment(pieces: list[Piece], tol: float) -> Relations:
    """For each piece, the larger pieces it sits inside (box inside box, then a ray test)."""
    relations = Relations(
        inside=[[] for _ in pieces], pairs=overlapping_pairs(pieces, tol), meshes={}
    )
    for i, j in relations.pairs.tolist():
        for small, big in ((i, j), (j, i)):
            a, b = pieces[small], pieces[big]
            if abs(a.volume) >= abs(b.volume) or not _box_inside(a, b, tol):
                continue
            point = a.vertices[a.faces[0, 0]].reshape(1, 3)
            if bool(relations.mesh(pieces, big).contains(point)[0]):
                relations.inside[small].append(big)
    return relations


def orient(pieces: list[Piece], relations: Relations) -> tuple[list[Piece], int]:
    """Turn inside-out shells outward; keep inward-wound shells inside another (voids).

    A shell that is not inside any other must enclose positive volume; when it does not, it
    and every shell inside it are flipped (the whole object was exported inside out).

    Returns
    -------
    pieces : the pieces, flipped where needed.
    flipped : number of shells flipped.
    """
    flip = np.zeros(len(pieces), dtype=bool)
    for i, piece in enumerate(pieces):
        if not relations.inside[i] and piece.volume < 0:
            flip[i] = True
            for k, containers in enumerate(relations.inside):
                if i in containers:
                    flip[k] = True
    out = []
    for i, piece in enumerate(pieces):
        if flip[i]:
            piece = replace(piece, faces=piece.faces[:, ::-1].copy(), volume=-piece.volume)
        out.append(piece)
    return out, int(flip.sum())


def group(pieces: list[Piece], relations: Relations, tol: float) -> list[list[int]]:
    """Indices of pieces that form one body (touching, overlapping or nested), in file order."""
    parent = list(range(len(pieces)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    for i, containers in enumerate(relations.inside):
        for j in containers:
            join(i, j)
    # Meshes cached by ``containment`` were built before ``orient``; ray and distance queries
    # do not depend on winding, so they are still good.
    for i, j in relations.pairs.tolist():
        if find(i) == find(j):
            continue
        for a, b in ((i, j), (j, i)):
            if _surfaces_meet(pieces[a], pieces[b], tol, relations.mesh(pieces, b)):
                join(i, j)
                break
    groups: dict[int, list[int]] = {}
    for i in range(len(pieces)):
        groups.setdefault(find(i), []).append(i)
    out = sorted(groups.values(), key=lambda g: min(pieces[k].order for k in g))
    return [sorted(g, key=lambda k: pieces[k].order) for g in out]


@dataclass
class Merged:
    """One body's mesh arrays and how it was assembled.

    vertices, faces : the mesh, mm. brep_face : per-triangle B-rep face index or None.
    union : True when overlapping shells were joined by a boolean union.
    volume : enclosed volume, mm^3. open_edges : edges with one triangle.
    adjacency : the faces' ``topology.face_adjacency`` when known (a body of one piece).
    """

    vertices: FloatArray
    faces: IntArray
    brep_face: IntArray | None
    union: bool
    volume: float
    open_edges: int
    adjacency: tuple[IntArray, IntArray] | None = None


def merge(pieces: list[Piece], members: list[int]) -> Merged:
    """Join the pieces of one body: concatenated when they only touch, united when they overlap.

    Touching shells concatenated stay closed (each edge still has two triangles) and their
    volumes add up exactly, and the per-triangle B-rep face index survives. Shells that
    overlap would count the shared volume twice, so when a boolean union (manifold3d) encloses
    less than their sum, the union is used instead. Voids (inward shells) are never united.
    """
    chosen = [pieces[k] for k in members]
    if len(chosen) == 1:
        p = chosen[0]
        return Merged(p.vertices, p.faces, p.brep_face, False, p.volume, p.open_edges, p.adjacency)
    if all(p.volume > 0 for p in chosen):
        total = sum(p.volume for p in chosen)
        try:
            united = trimesh.boolean.union([p.mesh() for p in chosen], engine="manifold")
        except Exception:  # noqa: BLE001 - a failed boolean falls back to concatenation
            united = None
        if united is not None and len(united.faces):
            u_vol = signed_volume(np.asarray(united.vertices), np.asarray(united.faces))
            if u_vol < total * (1.0 - _OVERLAP_SHARE):
                return Merged(
                    np.asarray(united.vertices, dtype=float),
                    np.asarray(united.faces),
                    None,
                    True,
                    u_vol,
                    0,
                )
    offsets = np.cumsum([0] + [len(p.vertices) for p in chosen[:-1]])
    vertices = np.vstack([p.vertices for p in chosen])
    faces = np.vstack([p.faces + off for p, off in zip(chosen, offsets, strict=True)])
    brep = None
    if all(p.brep_face is not None for p in chosen):
        brep = np.concatenate([p.brep_face for p in chosen])
    volume = sum(p.volume for p in chosen)
    return Merged(vertices, faces, brep, False, volume, sum(p.open_edges for p in chosen))
