"""``GET /v1/parts/{id}/mesh``: the part's tessellation for the 3D view (its owner only).

The STL is made once per file and units and kept beside the part store
(``$DATA_DIR/meshes/ab/<sha256>-<units>.stl``), so every API process and host serves it from then
on without parsing the STEP file again. It is derived data: deleting the folder is safe.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from platform_api.context import AppContext
from platform_api.db.models import Part
from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.errors import NotFound
from platform_api.parts import service as parts_service
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND
from platform_api.web.tessellate import part_stl

router = APIRouter(prefix="/v1/parts", tags=["parts"], responses=AUTH_ERRORS)
PartId = Annotated[str, PathParam(max_length=40, examples=["part_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]


def mesh_path(data_dir: Path, part: Part) -> Path:
    """Where the STL of ``part`` is cached (content-addressed like the part files)."""
    units = part.units_requested or "file"
    return data_dir / "meshes" / part.sha256[:2] / f"{part.sha256}-{units}.stl"


def part_mesh_bytes(ctx: AppContext, part: Part) -> bytes:
    """The cached STL of ``part``, made in an analysis worker the first time."""
    cached = mesh_path(ctx.settings.data_dir, part)
    if cached.is_file():
        return cached.read_bytes()
    source = ctx.settings.data_dir / part.storage_path
    if not source.is_file():
        raise NotFound("the file of this part is missing from storage", detail={"part_id": part.id})
    data: bytes = ctx.analyzer.call_part(
        part_stl, str(source), part.units_requested or None, ctx.settings.max_upload_bytes
    )
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.name}.{secrets.token_hex(6)}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, cached)  # atomic: a concurrent reader sees the whole file or none
    return data


@router.get(
    "/{part_id}/mesh",
    response_class=Response,
    responses={
        200: {
            "description": "Binary STL of every body of the part, in mm, in the file's "
            "coordinates (the frame of the DFM warnings' location_mm).",
            "content": {"model/stl": {"example": "(80-byte header, uint32 count, triangles)"}},
        },
        **NOT_FOUND,
    },
)
def get_part_mesh(
    part_id: PartId, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> Response:
    """The part's triangles for a 3D view (STEP tessellated on the server; its owner only)."""
    principal.require("shop", "buyer", scope="read")
    part = parts_service.get(session=session, org_id=principal.org_id, part_id=part_id)
    return Response(
        part_mesh_bytes(ctx, part),
        media_type="model/stl",
        headers={"Cache-Control": "private, max-age=86400"},
    )
