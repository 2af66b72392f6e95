"""Mesh files (STL, OBJ, PLY, 3MF, GLB) through trimesh, as named triangle arrays.

Every format is parsed by trimesh, with ``trimesh.load``'s defaults (the "bare parse" the
latency benchmark compares against), and timed alone. Binary STL, the most common upload, takes
a shorter road to the same arrays: trimesh's own binary STL parser, then the clean-up
``trimesh.load`` does by default (drop non-finite vertices, merge vertices that agree to 8
decimals, in order of first use) redone here with one hash sort instead of trimesh's row
hashing and cache bookkeeping: 1.1 ms -> 0.2 ms for 1.3k triangles, bit for bit the same
vertices and faces. A file with several objects (a 3MF or GLB scene, an ASCII STL with several
``solid`` blocks) gives one ``MeshObject`` per placed object, with its transform applied and
its name kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

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
    (3MF, glTF), or None. parse_seconds: time of ``trimesh.load`` (binary STL: of its parser
    and vertex merge), s. skipped: objects without triangles (point clouds, lines) that were
    ignored."""

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


def _declared_units(loaded: trimesh.Trimesh | trimesh.Scene) -> str | None:
    candidates = [getattr(loaded, "units", None), loaded.metadata.get("units")]
    if isinstance(loaded, trimesh.Scene):
        candidates += [g.metadata.get("units") for g in loaded.geometry.values()]
    for cand in candidates:
        unit = unit_from_name(cand) if isinstance(cand, str) else None
        if unit is not None:
            return unit
    return None


def read_mesh(path: Path, source_format: str, *, max_triangles: int) -> MeshFile:
    """Load a mesh file with trimesh.

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
        fast = _read_binary_stl(path, max_triangles)
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


def _read_binary_stl(path: Path, max_triangles: int) -> MeshFile | None:
    """A binary STL read like ``trimesh.load`` reads it, or None to take the general road
    (ASCII or malformed files: trimesh's loader gives them their usual errors)."""
    from trimesh.exchange.stl import load_stl_binary

    start = time.perf_counter()
    try:
        with open(path, "rb") as file:
            kwargs = load_stl_binary(file)
        vertices = np.asarray(kwargs["vertices"], dtype=np.float64).reshape(-1, 3)
        faces = np.asarray(kwargs["faces"], dtype=np.int64).reshape(-1, 3)
    except Exception:  # noqa: BLE001 - not a (readable) binary STL: the general road decides
        return None
    vertices, faces = merge_vertices_like_trimesh(vertices, faces)
    parse_seconds = time.perf_counter() - start
    if len(faces) == 0:
        return None  # trimesh.load's empty-mesh handling gives the right error
    if len(faces) > max_triangles:
        raise PartTooLarge(
            f"{path.name} holds {len(faces):,} triangles, over the limit of "
            f"{max_triangles:,}. Export it with a coarser tessellation or send the STEP file.",
            detail={"triangles": len(faces), "max_triangles": max_triangles},
        )
    return MeshFile(
        objects=[MeshObject(None, vertices, faces)],
        units=None,
        parse_seconds=parse_seconds,
        skipped=0,
    )


# Odd 64-bit multipliers (as signed int64) hashing a vertex's three grid coordinates into one
# sortable key; products wrap around, which only mixes the bits further.
_HASH_X = np.int64(0x9E3779B97F4A7C15 - (1 << 64))
_HASH_Y = np.int64(0xC2B2AE3D27D4EB4F - (1 << 64))
# trimesh merges vertices that agree to this many decimals (``trimesh.tol.merge`` = 1e-8).
_MERGE_DIGITS = 8


def merge_vertices_like_trimesh(
    vertices: FloatArray, faces: IntArray
) -> tuple[FloatArray, IntArray]:
    """What ``trimesh.Trimesh(vertices, faces, process=True)`` does to the arrays of a mesh
    without texture or vertex normals (an STL), with the same result.

    Faces using a non-finite vertex are dropped with that vertex; the referenced vertices that
    round to the same 1e-8 grid point are merged, each group keeping its first vertex, in
    order of first occurrence; unreferenced vertices are dropped.

    Parameters
    ----------
    vertices : (V, 3) float
        Vertex positions in file units.
    faces : (F, 3) int
        Triangles.

    Returns
    -------
    vertices : (V', 3) float
    faces : (F', 3) int
    """
    if len(vertices) == 0 or len(faces) == 0:
        return vertices, faces
    if not np.isfinite(vertices).all():
        finite = np.isfinite(vertices).all(axis=1)
        faces = faces[finite[faces].all(axis=1)]
        renumber = np.zeros(len(vertices), dtype=np.int64)
        renumber[finite] = np.arange(int(finite.sum()))
        faces = renumber[faces]
        vertices = vertices[finite]
        if len(vertices) == 0:
            return vertices, faces
    referenced = np.zeros(len(vertices), dtype=bool)
    referenced[faces] = True
    if len(faces) == 0:
        referenced[:] = True
    every = bool(referenced.all())
    idx = np.arange(len(vertices)) if every else np.flatnonzero(referenced)
    grid = np.round((vertices if every else vertices[idx]) * 10**_MERGE_DIGITS).astype(np.int64)
    gx, gy, gz = grid[:, 0], grid[:, 1], grid[:, 2]
    with np.errstate(over="ignore"):
        key = gx * _HASH_X + gy * _HASH_Y + gz
    order = np.argsort(key)
    ordered = key[order]
    new = np.empty(len(ordered), dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    same = ~new[1:]
    if same.any():
        # Equal keys must be equal grid points; a hash collision takes the exact road.
        a, b = order[1:][same], order[:-1][same]
        if not ((gx[a] == gx[b]) & (gy[a] == gy[b]) & (gz[a] == gz[b])).all():
            return _merge_exact(vertices, faces, idx, grid)
    starts = np.flatnonzero(new)
    return _renumber(vertices, faces, idx, order, starts, np.cumsum(new) - 1)


def _merge_exact(
    vertices: FloatArray, faces: IntArray, idx: IntArray, grid: IntArray
) -> tuple[FloatArray, IntArray]:
    order = np.lexsort(grid.T[::-1])
    ordered = grid[order]
    new = np.empty(len(ordered), dtype=bool)
    new[0] = True
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    return _renumber(vertices, faces, idx, order, np.flatnonzero(new), np.cumsum(new) - 1)


def _renumber(
    vertices: FloatArray,
    faces: IntArray,
    idx: IntArray,
    order: IntArray,
    starts: IntArray,
    group_sorted: IntArray,
) -> tuple[FloatArray, IntArray]:
    """Merged arrays from the grouping of ``vertices[idx]`` (``order`` sorts them by group,
    ``starts`` begin each group, ``group_sorted`` numbers them in sorted order)."""
    first = np.minimum.reduceat(order, starts)  # each group's first vertex
    rank = np.argsort(first)  # groups in order of first occurrence
    new_id = np.empty(len(first), dtype=np.int64)
    new_id[rank] = np.arange(len(first))
    inverse = np.zeros(len(vertices), dtype=np.int64)
    inverse[idx[order]] = new_id[group_sorted]
    return vertices[idx[first[rank]]], inverse[faces.reshape(-1)].reshape(-1, 3)
