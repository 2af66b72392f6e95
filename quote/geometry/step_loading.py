"""STEP files into bodies: solids tessellated, touching ones united, the B-rep kept.

The STEP path of ``load_part``: OpenCASCADE reads the file (``step.py``, imported only here,
so mesh files never load OCP), each solid is tessellated and checked, and touching solids are
grouped into bodies that keep their exact shape.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from quote.errors import NotASolid
from quote.geometry import bodies as bodies_mod
from quote.geometry import loaded
from quote.geometry.loaded import Body, LoadedPart
from quote.geometry.preflight import FileInfo
from quote.geometry.repair import clean_mesh
from quote.geometry.units import UNIT_SCALE_MM, check_size
from quote.types import DfmWarning


def load_step(info: FileInfo, chosen: str | None, pmi: bool = True) -> LoadedPart:
    """``load_part`` for STEP files (``chosen``: ``--units``, ignored with a warning)."""
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
            loaded.repair_warning(
                f"{reversed_solids} solid(s) had all faces reversed (inside out); their mesh "
                f"was turned outward.",
                "info",
            )
        )
    size_check_units = step_file.units if step_file.units in UNIT_SCALE_MM else "mm"
    check_size(
        loaded.box_extents(pieces), units=size_check_units, units_given=True, source_format="step"
    )
    tol = loaded.touch_tolerance(pieces)
    relations = bodies_mod.containment(pieces, tol)
    groups = bodies_mod.group(pieces, relations, tol)
    groups, dropped = loaded.drop_tiny_groups(pieces, groups)
    bodies = []
    names = []
    for index, members in enumerate(groups):
        solid_names = [step_file.solids[pieces[k].source].name for k in members]
        name = solid_names[0] if len(members) == 1 and solid_names[0] else f"body {index + 1}"
        names.append(name)
        merged = bodies_mod.merge(pieces, members)
        mesh = loaded.make_mesh(merged, name=name, deflection_mm=deflection)
        loaded.check_volume(merged, info.path, name)
        shape = step_mod.compound([step_file.solids[pieces[k].source].shape for k in members])
        bodies.append(
            Body(index=index, name=name, mesh=mesh, shape=shape, face_adjacency=merged.adjacency)
        )
    warnings += loaded.body_warnings(groups, pieces, names, len(pieces), "solids", dropped)
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
