"""Mesh files (STL, OBJ, PLY, 3MF, GLB) into bodies: repair, shells, debris, orientation.

The mesh path of ``load_part``: each object is checked and repaired (``repair.py``), split into
shells, welded solids are separated again, open or flat debris is dropped (a real open or flat
shell refuses the part), shells are turned outward and grouped into bodies (``bodies.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quote.errors import NotASolid
from quote.geometry import bodies as bodies_mod
from quote.geometry import loaded
from quote.geometry.loaded import Body, LoadedPart
from quote.geometry.mesh_io import read_mesh
from quote.geometry.preflight import FileInfo
from quote.geometry.repair import clean_mesh, edge_report, triangle_areas
from quote.geometry.units import UNIT_SCALE_MM, check_size
from quote.types import DfmWarning

# An open or flat shell with less than this share of the surface area is debris: dropped.
_FRAGMENT_AREA_SHARE = 0.01


def _area(vertices: np.ndarray, faces: np.ndarray) -> float:
    return float(triangle_areas(vertices, faces).sum())


def _is_flat(piece: bodies_mod.Piece) -> bool:
    box = np.maximum(piece.hi - piece.lo, 1e-9)
    return abs(piece.volume) <= loaded.FLAT_VOLUME_SHARE * float(np.prod(box))


def _sort_out_shells(
    pieces: list[bodies_mod.Piece], closed: bool, path: Path
) -> tuple[list[bodies_mod.Piece], list[str]]:
    """Drop open or flat debris shells; refuse the part when a real shell is open or flat."""
    if not pieces:
        raise NotASolid(
            f"{path.name} encloses no volume: its triangles are two-sided sheets that cancel "
            f"out. Export the part as a solid body.",
            detail={"path": str(path), "shells": 0},
        )
    if closed and all(not _is_flat(p) for p in pieces):
        return pieces, []
    areas = [_area(p.vertices, p.faces) for p in pieces]
    total = sum(areas) or 1.0
    kept: list[bodies_mod.Piece] = []
    dropped: list[float] = []
    for piece, area in zip(pieces, areas, strict=True):
        if not closed:
            piece.open_edges = edge_report(piece.faces, len(piece.vertices)).open_edges
        open_edges = piece.open_edges
        flat = _is_flat(piece)
        if open_edges == 0 and not flat:
            kept.append(piece)
            continue
        if area < _FRAGMENT_AREA_SHARE * total:
            dropped.append(area)
            continue
        if open_edges:
            raise NotASolid(
                f"{path.name} is not a closed solid: {open_edges} triangle edges border holes "
                f"that are too large to fill safely (a surface of {area:.4g} mm^2 is open). "
                f"Close the model in CAD (or export it as a solid) and send it again.",
                detail={"path": str(path), "open_edges": open_edges, "open_area_mm2": area},
            )
        raise NotASolid(
            f"{path.name} encloses no volume: a surface of {area:.4g} mm^2 has zero thickness "
            f"(|volume| {abs(piece.volume):.3g} mm^3). Export the part as a solid body.",
            detail={"path": str(path), "volume_mm3": abs(piece.volume), "area_mm2": area},
        )
    actions = []
    if dropped:
        actions.append(
            f"removed {len(dropped)} loose surface fragments ({sum(dropped):.3g} mm^2 in all, "
            f"{100 * sum(dropped) / total:.2g}% of the surface) that enclose no volume"
        )
    if not kept:
        raise NotASolid(
            f"{path.name} encloses no volume: it is made of open or flat surfaces only.",
            detail={"path": str(path), "shells": len(pieces)},
        )
    return kept, actions


def _separate_welded_shells(
    vertices: np.ndarray,
    faces: np.ndarray,
    shells: list[bodies_mod.Piece],
    source: int,
    offset: int,
) -> list[bodies_mod.Piece]:
    """Split shells that share vertices or edges but are each closed (bodies exported touching).

    Vertex merging welds two solids that touch into one shell with non-manifold edges and a
    double wall between them; split across manifold edges only, each is closed again, and
    ``bodies.merge`` unites them into one clean solid. Kept as is when the split leaves open
    pieces (a genuine non-manifold surface, such as an inner membrane).
    """
    labels = bodies_mod.shell_labels(vertices, faces, manifold_only=True)
    if len(np.unique(labels)) <= len(shells):
        return shells
    split = bodies_mod.split_shells(
        vertices, faces, source=source, order_offset=offset, labels=labels
    )
    if all(edge_report(p.faces, len(p.vertices)).closed for p in split):
        return split
    return shells


def load_mesh(info: FileInfo, chosen: str | None, max_triangles: int) -> LoadedPart:
    """``load_part`` for mesh files (``info`` from ``preflight``, ``chosen`` from ``--units``)."""
    mesh_file = read_mesh(
        info.path, info.source_format, max_triangles=max_triangles, data=info.data
    )
    units = chosen or mesh_file.units or "mm"
    scale = UNIT_SCALE_MM[units]
    warnings: list[DfmWarning] = []
    pieces: list[bodies_mod.Piece] = []
    all_closed = True
    offset = 0
    n_objects = len(mesh_file.objects)
    for source, obj in enumerate(mesh_file.objects):
        vertices = obj.vertices * scale if scale != 1.0 else obj.vertices
        cleaned = clean_mesh(vertices, obj.faces)
        label = f" in {obj.name or f'object {source + 1}'}" if n_objects > 1 else ""
        for action in cleaned.actions:
            routine = action.startswith(("removed", "merged"))
            warnings.append(
                loaded.repair_warning(
                    f"Mesh repaired{label}: {action}.", "info" if routine else "warning"
                )
            )
        all_closed &= cleaned.report.closed
        shells = bodies_mod.split_shells(
            cleaned.vertices,
            cleaned.faces,
            source=source,
            order_offset=offset,
            adjacency=(cleaned.report.adjacency, cleaned.report.adjacency_edges),
        )
        if cleaned.report.nonmanifold_edges:
            separated = _separate_welded_shells(
                cleaned.vertices, cleaned.faces, shells, source, offset
            )
            if separated is not shells:
                shells = separated  # closed solids welded where they touch: united below
            else:
                warnings.append(
                    DfmWarning(
                        code="nonmanifold_edges",
                        severity="info",
                        message=(
                            f"{cleaned.report.nonmanifold_edges} edges{label} are shared by "
                            f"more than two triangles (bodies exported touching, or inner "
                            f"walls); the part is measured as one solid there."
                        ),
                        value=float(cleaned.report.nonmanifold_edges),
                    )
                )
        pieces += shells
        offset += len(obj.faces)
    pieces, actions = _sort_out_shells(pieces, all_closed, info.path)
    warnings += [loaded.repair_warning(f"Mesh repaired: {a}.") for a in actions]
    check_size(  # before the costlier steps below: a unit mistake is refused early
        loaded.box_extents(pieces),
        units=units,
        units_given=chosen is not None or mesh_file.units is not None,
        source_format=info.source_format,
    )
    tol = loaded.touch_tolerance(pieces)
    relations = bodies_mod.containment(pieces, tol)
    pieces, flipped = bodies_mod.orient(pieces, relations)
    if flipped:
        what = (
            "the mesh was inside out (its normals pointed inward); turned it outward"
            if flipped == len(pieces)
            else f"turned {flipped} inside-out shells outward"
        )
        warnings.append(loaded.repair_warning(f"Mesh repaired: {what}."))
    groups = bodies_mod.group(pieces, relations, tol)
    groups, dropped = loaded.drop_tiny_groups(pieces, groups)
    names = _mesh_names(pieces, groups, [o.name for o in mesh_file.objects])
    bodies = []
    for index, members in enumerate(groups):
        merged = bodies_mod.merge(pieces, members)
        mesh = loaded.make_mesh(merged, name=names[index])
        loaded.check_volume(merged, info.path, names[index])
        bodies.append(
            Body(
                index=index,
                name=names[index],
                mesh=mesh,
                shape=None,
                face_adjacency=merged.adjacency,
            )
        )
    n_shells = sum(1 for p in pieces if p.volume > 0)
    warnings += loaded.body_warnings(groups, pieces, names, n_shells, "shells", dropped)
    return LoadedPart(
        path=info.path,
        source_format=info.source_format,
        file_sha256=info.sha256,
        units=units,
        bodies=tuple(bodies),
        warnings=tuple(warnings),
        parse_seconds=mesh_file.parse_seconds,
    )


def _mesh_names(
    pieces: list[bodies_mod.Piece], groups: list[list[int]], object_names: list[str | None]
) -> list[str]:
    per_source: dict[int, int] = {}
    for members in groups:
        for src in {pieces[k].source for k in members}:
            per_source[src] = per_source.get(src, 0) + 1
    seen: dict[int, int] = {}
    names = []
    for index, members in enumerate(groups):
        sources = sorted({pieces[k].source for k in members})
        labels = []
        for src in sources:
            base = object_names[src]
            if base is None:
                continue
            if per_source[src] > 1:
                seen[src] = seen.get(src, 0) + 1
                base = f"{base} #{seen[src]}"
            labels.append(base)
        if labels and len(labels) <= 3:
            names.append(" + ".join(labels))
        else:
            names.append(f"body {index + 1}")
    return names
