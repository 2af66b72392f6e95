"""Mesh files (STL, OBJ, PLY, 3MF, GLB) through trimesh, as named triangle arrays.

``trimesh.load`` with its defaults is the "bare parse" the latency benchmark compares against,
so it is called exactly that way and timed alone. A file with several objects (a 3MF or GLB
scene, an ASCII STL with several ``solid`` blocks) gives one ``MeshObject`` per placed object,
with its transform applied and its name kept.
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
    (3MF, glTF), or None. parse_seconds: time of ``trimesh.load``, s. skipped: objects without
    triangles (point clouds, lines) that were ignored."""

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
