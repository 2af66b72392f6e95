"""What ``load_part`` returns (``Body``, ``LoadedPart``) and the steps both its paths share.

Both paths end alike: shells or solids closer than ``touch_tolerance`` are grouped into bodies,
specks are dropped (``drop_tiny_groups``), each body becomes a trimesh (``make_mesh``) that must
enclose a volume (``check_volume``), and ``body_warnings`` says how the file was split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from quote.errors import NotASolid
from quote.geometry import bodies as bodies_mod
from quote.geometry.measures import vertex_box
from quote.geometry.units import MIN_EXTENT_MM
from quote.types import DfmWarning, Pmi

# Shells and solids closer than this touch, mm (plus a share of the part diagonal for the
# float32 rounding of STL coordinates and of our STEP tessellation).
_TOUCH_TOL_MM = 1e-3
_TOUCH_TOL_SHARE = 1e-6
# A closed shell enclosing less than this share of its box's volume is flat (zero volume).
FLAT_VOLUME_SHARE = 1e-6


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
    warnings : what was noticed or repaired (codes "mesh_repaired", "multi_body",
        "ignored_geometry", "units_ignored", "tessellation_gaps", "nonmanifold_edges",
        "pmi_incomplete").
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


def repair_warning(message: str, severity: str = "warning") -> DfmWarning:
    """A ``mesh_repaired`` warning: what was done to the file's geometry to quote it."""
    return DfmWarning(code="mesh_repaired", severity=severity, message=message)


def _box(pieces: list[bodies_mod.Piece]) -> tuple[np.ndarray, np.ndarray]:
    if len(pieces) == 1:
        return pieces[0].lo, pieces[0].hi
    return np.min([p.lo for p in pieces], axis=0), np.max([p.hi for p in pieces], axis=0)


def touch_tolerance(pieces: list[bodies_mod.Piece]) -> float:
    """Gap under which shells or solids touch, mm; it grows with the size of all ``pieces``."""
    lo, hi = _box(pieces)
    return _TOUCH_TOL_MM + _TOUCH_TOL_SHARE * float(np.linalg.norm(hi - lo))


def box_extents(pieces: list[bodies_mod.Piece]) -> np.ndarray:
    """Size of the axis-aligned box around all ``pieces``, shape (3,), mm."""
    lo, hi = _box(pieces)
    return hi - lo


def drop_tiny_groups(
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


def make_mesh(
    merged: bodies_mod.Merged, *, name: str, deflection_mm: float | None = None
) -> trimesh.Trimesh:
    """The trimesh of a merged body, with the metadata ``Body.mesh`` documents, not processed."""
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


def check_volume(merged: bodies_mod.Merged, path: Path, name: str) -> None:
    """Refuse a body that encloses no volume (a flat or inside-out remnant), ``NotASolid``."""
    volume = merged.volume
    lo, hi = vertex_box(merged.vertices)
    extents = hi - lo
    if volume <= FLAT_VOLUME_SHARE * float(np.prod(np.maximum(extents, 1e-9))):
        raise NotASolid(
            f"{path.name}: {name} encloses no volume ({volume:.3g} mm^3 in a "
            f"{' x '.join(f'{e:.4g}' for e in extents)} mm box). Export the part as a solid.",
            detail={"path": str(path), "body": name, "volume_mm3": volume},
        )


def body_warnings(
    groups: list[list[int]],
    pieces: list[bodies_mod.Piece],
    names: list[str],
    n_items: int,
    kind: str,
    dropped: int,
) -> list[DfmWarning]:
    """What to tell about the split into bodies: specks dropped, several bodies, joined ones."""
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
