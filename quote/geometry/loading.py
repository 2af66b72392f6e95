"""Reading a part file into bodies: closed triangle meshes in mm (and the exact B-rep for STEP).

``load_part`` is the front door of the geometry package. It runs, in order:

1. ``preflight``: suffix, size and a look at the bytes (refuses empty, oversized, truncated
   and foreign files before parsing);
2. the parse: OpenCASCADE for STEP (``step.py``; with its semantic PMI, ``pmi.py``, when
   the file has any), trimesh for meshes (``mesh_io.py``);
3. for meshes, the check-and-repair of ``repair.py`` (cheap when the mesh is already sound);
   for STEP, a fast tessellation of each solid;
4. shells and solids into bodies (``bodies.py``): touching or overlapping ones are one part,
   separate ones are separate line items;
5. the size check and unit-mistake hint of ``units.py``.

Every problem comes back either as a typed error from ``quote.errors`` (the part cannot be
quoted) or as a ``DfmWarning`` on the result (it can, and the user should know what was done).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from quote.errors import NotASolid
from quote.geometry import bodies as bodies_mod
from quote.geometry.measures import vertex_box
from quote.geometry.mesh_io import read_mesh
from quote.geometry.preflight import SUPPORTED_SUFFIXES, FileInfo, preflight
from quote.geometry.repair import clean_mesh, edge_report, triangle_areas
from quote.geometry.units import (
    MIN_EXTENT_MM,
    UNIT_SCALE_MM,
    check_size,
    parse_units,
)
from quote.types import DfmWarning, Pmi

__all__ = ["SUPPORTED_SUFFIXES", "Body", "LoadedPart", "load_part"]

# Shells and solids closer than this touch, mm (plus a share of the part diagonal for the
# float32 rounding of STL coordinates and of our STEP tessellation).
_TOUCH_TOL_MM = 1e-3
_TOUCH_TOL_SHARE = 1e-6
# An open or flat shell with less than this share of the surface area is debris: dropped.
_FRAGMENT_AREA_SHARE = 0.01
# A closed shell enclosing less than this share of its box's volume is flat (zero volume).
_FLAT_VOLUME_SHARE = 1e-6


@dataclass(frozen=True)
class Body:
    """One body of a part file: a separate line item of a quote.

    index : 0-based position, in file order.
    name : the solid or mesh name from the file, or ``f"body {index + 1}"``.
    mesh : closed triangle mesh in mm with outward normals. For STEP it is our tessellation
        (chord deflection 0.1% of the diagonal, at most 0.5 mm); ``mesh.metadata`` holds
        ``"brep_face"`` ((F,) int array: the B-rep face each triangle meshes, in
        ``TopExp_Explorer(shape, TopAbs_FACE)`` order, -1 for added triangles; None for meshes
        and united bodies), ``"deflection_mm"`` (STEP) and ``"open_edges"`` (0 when closed).
    shape : the OCP ``TopoDS_Shape`` (a solid, or a compound of the touching solids), mm,
        STEP only; None for meshes.
    face_adjacency : ((E, 2) int, (E, 2) int) or None: ``topology.face_adjacency`` of
        ``mesh.faces`` (triangle pairs sharing an edge, and the edges) when the mesh check
        found it already (a body of one shell), for ``MeshData.from_trimesh``; None otherwise.
    pmi : the STEP file's semantic PMI on this body (faces numbered in
        ``TopExp_Explorer(shape, TopAbs_FACE)`` order), or None.
    """

    index: int
    name: str
    mesh: trimesh.Trimesh
    shape: Any | None
    face_adjacency: tuple[np.ndarray, np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )
    pmi: Pmi | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LoadedPart:
    """A part file read into bodies.

    path : the file. source_format : "step", "stl", "obj", "ply", "3mf" or "glb".
    file_sha256 : hex SHA-256 of the file's bytes.
    units : the unit the file was read in ("mm", "inch", "m", "cm"; for STEP, the unit the file
        declares, converted to mm by the reader).
    bodies : the bodies, in file order (one per line item).
    warnings : what was noticed or repaired (codes "mesh_repaired", "suspect_units",
        "multi_body", "ignored_geometry", "units_ignored", "tessellation_gaps",
        "nonmanifold_edges", "pmi_incomplete").
    parse_seconds : time of the bare parse (``trimesh.load``, or for binary STL our reader and
        the same vertex merge; STEP ``ReadFile`` + ``TransferRoots``), s.
    """

    path: Path
    source_format: str
    file_sha256: str
    units: str
    bodies: tuple[Body, ...]
    warnings: tuple[DfmWarning, ...]
    parse_seconds: float


def load_part(
    path: str | Path,
    *,
    units: str | None = None,
    max_bytes: int = 100 * 2**20,
    max_triangles: int = 2_000_000,
    pmi: bool = True,
) -> LoadedPart:
    """Read a part file (STEP, STL, OBJ, PLY, 3MF, GLB) into bodies in millimetres.

    Parameters
    ----------
    path : str or Path
        The part file; the format is taken from the suffix (case-insensitive).
    units : str, optional
        Unit of a mesh file's coordinates: "mm" (default for STL, OBJ, PLY), "cm", "m",
        "inch" / "in". 3MF and GLB declare theirs (glTF: metres) and STEP converts its own,
        so for those it overrides the file only for meshes and is ignored for STEP.
    max_bytes : int
        Largest file accepted, bytes (checked before reading).
    max_triangles : int
        Largest mesh accepted, triangles (binary STL and PLY: checked from the header).
    pmi : bool
        Read a STEP file's semantic PMI (AP242 GD&T) onto its bodies when it has any; False
        reads the shapes only, as for a file without PMI.

    Returns
    -------
    LoadedPart

    Raises
    ------
    InvalidUnits, UnsupportedFormat, PartNotFound, EmptyPart, UnreadablePart, PartTooLarge,
    NotASolid, PartSizeOutOfRange
        See ``quote.errors``; each message says what is wrong and what to do.
    """
    chosen = parse_units(units) if units is not None else None
    info = preflight(path, max_bytes=max_bytes, max_triangles=max_triangles)
    if info.source_format == "step":
        return _load_step(info, chosen, pmi)
    return _load_mesh(info, chosen, max_triangles)


# --------------------------------------------------------------------------- meshes


def _repair_warning(message: str, severity: str = "warning") -> DfmWarning:
    return DfmWarning(code="mesh_repaired", severity=severity, message=message)


def _box(pieces: list[bodies_mod.Piece]) -> tuple[np.ndarray, np.ndarray]:
    if len(pieces) == 1:
        return pieces[0].lo, pieces[0].hi
    return np.min([p.lo for p in pieces], axis=0), np.max([p.hi for p in pieces], axis=0)


def _tolerance(pieces: list[bodies_mod.Piece]) -> float:
    lo, hi = _box(pieces)
    return _TOUCH_TOL_MM + _TOUCH_TOL_SHARE * float(np.linalg.norm(hi - lo))


def _extents(pieces: list[bodies_mod.Piece]) -> np.ndarray:
    lo, hi = _box(pieces)
    return hi - lo


def _area(vertices: np.ndarray, faces: np.ndarray) -> float:
    return float(triangle_areas(vertices, faces).sum())


def _is_flat(piece: bodies_mod.Piece) -> bool:
    box = np.maximum(piece.hi - piece.lo, 1e-9)
    return abs(piece.volume) <= _FLAT_VOLUME_SHARE * float(np.prod(box))


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


def _load_mesh(info: FileInfo, chosen: str | None, max_triangles: int) -> LoadedPart:
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
                _repair_warning(
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
    warnings += [_repair_warning(f"Mesh repaired: {a}.") for a in actions]
    size_warning = check_size(
        _extents(pieces),
        units=units,
        units_given=chosen is not None,
        source_format=info.source_format,
    )
    tol = _tolerance(pieces)
    relations = bodies_mod.containment(pieces, tol)
    pieces, flipped = bodies_mod.orient(pieces, relations)
    if flipped:
        what = (
            "the mesh was inside out (its normals pointed inward); turned it outward"
            if flipped == len(pieces)
            else f"turned {flipped} inside-out shells outward"
        )
        warnings.append(_repair_warning(f"Mesh repaired: {what}."))
    groups = bodies_mod.group(pieces, relations, tol)
    groups, dropped = _drop_tiny_groups(pieces, groups)
    names = _mesh_names(pieces, groups, [o.name for o in mesh_file.objects])
    bodies = []
    for index, members in enumerate(groups):
        merged = bodies_mod.merge(pieces, members)
        mesh = _make_mesh(merged, name=names[index])
        _check_volume(merged, info.path, names[index])
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
    warnings += _body_warnings(groups, pieces, names, n_shells, "shells", dropped)
    if size_warning is not None:
        warnings.append(size_warning)
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


# --------------------------------------------------------------------------- STEP


def _load_step(info: FileInfo, chosen: str | None, pmi: bool) -> LoadedPart:
    from quote.geometry import step as step_mod  # OCP only for STEP files

    step_file = step_mod.read_step(info.path, pmi=pmi)
    warnings: list[DfmWarning] = []
    if chosen is not None and chosen != step_file.units:
        warnings.append(
            DfmWarning(
                code="units_ignored",
                severity="info",
                message=(
                    f"STEP files carry their own units (this one: {step_file.units}, converted "
                    f"to mm); --units {chosen} was ignored."
                ),
            )
        )
    ignored = {k: v for k, v in step_file.ignored.items() if v}
    if ignored:
        what = ", ".join(f"{v} {k}" for k, v in ignored.items())
        warnings.append(
            DfmWarning(
                code="ignored_geometry",
                severity="info",
                message=(
                    f"Ignored {what} that belong to no solid (construction or annotation "
                    f"geometry); only solids are quoted."
                ),
            )
        )
    if step_file.from_shells:
        warnings.append(
            DfmWarning(
                code="mesh_repaired",
                severity="info",
                message=(
                    f"The file describes {step_file.from_shells} part(s) as closed surfaces "
                    f"rather than solids; they were read as solids."
                ),
            )
        )
    shapes = [s.shape for s in step_file.solids]
    deflection = step_mod.tessellate(step_mod.compound(shapes))
    pieces: list[bodies_mod.Piece] = []
    gaps = 0
    empty = 0
    reversed_solids = 0
    for i, solid in enumerate(step_file.solids):
        vertices, faces, brep_face, missing = step_mod.solid_triangles(solid.shape)
        if len(faces) == 0:
            empty += 1
            continue
        cleaned = clean_mesh(vertices, faces, report_routine=False)
        if brep_face is not None:
            kept = brep_face if cleaned.keep is None else brep_face[cleaned.keep]
            extra = len(cleaned.faces) - len(kept)
            brep_face = np.concatenate([kept, np.full(extra, -1, dtype=kept.dtype)])
        gaps += cleaned.report.open_edges + missing
        piece = bodies_mod.make_piece(
            cleaned.vertices,
            cleaned.faces,
            source=i,
            order=i,
            brep_face=brep_face,
            open_edges=cleaned.report.open_edges,
            adjacency=(cleaned.report.adjacency, cleaned.report.adjacency_edges),
        )
        if piece.volume < 0:
            # A solid whose faces are all reversed in the file: the mesh follows the faces.
            reversed_solids += 1
            piece.faces = piece.faces[:, ::-1].copy()
            piece.volume = -piece.volume
        pieces.append(piece)
    if not pieces:
        raise NotASolid(
            f"{info.path.name}: none of its {len(step_file.solids)} solids could be meshed "
            f"(their faces are broken). Repair the model in CAD and export it again.",
            detail={"path": str(info.path), "solids": len(step_file.solids)},
        )
    if gaps or empty:
        warnings.append(
            DfmWarning(
                code="tessellation_gaps",
                severity="warning",
                message=(
                    f"The triangle mesh of the B-rep has {gaps} open edges"
                    + (f" and {empty} solids could not be meshed" if empty else "")
                    + " (faces of the file that do not quite meet); measurements from the mesh "
                    "may be slightly off there."
                ),
                value=float(gaps),
            )
        )
    if reversed_solids:
        warnings.append(
            _repair_warning(
                f"{reversed_solids} solid(s) had all faces reversed (inside out); their mesh "
                f"was turned outward.",
                "info",
            )
        )
    size_check_units = step_file.units if step_file.units in UNIT_SCALE_MM else "mm"
    check_size(_extents(pieces), units=size_check_units, units_given=True, source_format="step")
    tol = _tolerance(pieces)
    relations = bodies_mod.containment(pieces, tol)
    groups = bodies_mod.group(pieces, relations, tol)
    groups, dropped = _drop_tiny_groups(pieces, groups)
    bodies = []
    names = []
    for index, members in enumerate(groups):
        solid_names = [step_file.solids[pieces[k].source].name for k in members]
        name = solid_names[0] if len(members) == 1 and solid_names[0] else f"body {index + 1}"
        names.append(name)
        merged = bodies_mod.merge(pieces, members)
        mesh = _make_mesh(merged, name=name, deflection_mm=deflection)
        _check_volume(merged, info.path, name)
        shape = step_mod.compound([step_file.solids[pieces[k].source].shape for k in members])
        bodies.append(
            Body(index=index, name=name, mesh=mesh, shape=shape, face_adjacency=merged.adjacency)
        )
    warnings += _body_warnings(groups, pieces, names, len(pieces), "solids", dropped)
    if step_file.pmi is not None:
        from quote.geometry import pmi as pmi_mod

        per_body, notes = pmi_mod.assign(step_file.pmi, [b.shape for b in bodies])
        bodies = [dataclasses.replace(b, pmi=p) for b, p in zip(bodies, per_body, strict=True)]
        warnings += pmi_mod.warnings_from(notes)
    return LoadedPart(
        path=info.path,
        source_format="step",
        file_sha256=info.sha256,
        units=step_file.units,
        bodies=tuple(bodies),
        warnings=tuple(warnings),
        parse_seconds=step_file.parse_seconds,
    )


# --------------------------------------------------------------------------- shared


def _drop_tiny_groups(
    pieces: list[bodies_mod.Piece], groups: list[list[int]]
) -> tuple[list[list[int]], int]:
    """Drop bodies under 0.5 mm when larger ones exist (specks, not parts)."""
    if len(groups) == 1:
        return groups, 0  # nothing larger: a tiny part is check_size's to refuse

    def extent(members: list[int]) -> float:
        lo = np.min([pieces[k].lo for k in members], axis=0)
        hi = np.max([pieces[k].hi for k in members], axis=0)
        return float((hi - lo).max())

    sizes = [extent(g) for g in groups]
    if max(sizes) < MIN_EXTENT_MM:
        return groups, 0  # the whole part is tiny: check_size has refused it already
    kept = [g for g, s in zip(groups, sizes, strict=True) if s >= MIN_EXTENT_MM]
    return kept, len(groups) - len(kept)


def _make_mesh(
    merged: bodies_mod.Merged, *, name: str, deflection_mm: float | None = None
) -> trimesh.Trimesh:
    mesh = trimesh.Trimesh(
        vertices=merged.vertices, faces=merged.faces, process=False, validate=False
    )
    mesh.metadata["name"] = name
    mesh.metadata["units"] = "mm"
    mesh.metadata["brep_face"] = merged.brep_face
    mesh.metadata["open_edges"] = merged.open_edges
    if deflection_mm is not None:
        mesh.metadata["deflection_mm"] = deflection_mm
    return mesh


def _check_volume(merged: bodies_mod.Merged, path: Path, name: str) -> None:
    volume = merged.volume
    lo, hi = vertex_box(merged.vertices)
    extents = hi - lo
    if volume <= _FLAT_VOLUME_SHARE * float(np.prod(np.maximum(extents, 1e-9))):
        raise NotASolid(
            f"{path.name}: {name} encloses no volume ({volume:.3g} mm^3 in a "
            f"{' x '.join(f'{e:.4g}' for e in extents)} mm box). Export the part as a solid.",
            detail={"path": str(path), "body": name, "volume_mm3": volume},
        )


def _body_warnings(
    groups: list[list[int]],
    pieces: list[bodies_mod.Piece],
    names: list[str],
    n_items: int,
    kind: str,
    dropped: int,
) -> list[DfmWarning]:
    out = []
    if dropped:
        out.append(
            DfmWarning(
                code="ignored_geometry",
                severity="info",
                message=f"Ignored {dropped} specks smaller than {MIN_EXTENT_MM} mm.",
            )
        )
    joined = [g for g in groups if len(g) > 1]
    if len(groups) > 1:
        listed = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        message = (
            f"The file holds {len(groups)} separate bodies ({listed}); each is quoted as its own "
            f"line item."
        )
        if joined:
            message += (
                f" {sum(len(g) for g in joined)} {kind} that touch or overlap were joined into "
                f"{len(joined)} of them."
            )
        out.append(
            DfmWarning(
                code="multi_body", severity="info", message=message, value=float(len(groups))
            )
        )
    elif n_items > 1 and joined:
        out.append(
            DfmWarning(
                code="multi_body",
                severity="info",
                message=(
                    f"The file holds {n_items} {kind}; they touch or overlap, so they are quoted "
                    f"as one part."
                ),
                value=1.0,
            )
        )
    return out
