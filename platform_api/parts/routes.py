"""HTTP routes: /v1/parts (upload, read, download; the owner only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile, status
from fastapi.responses import FileResponse

from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.errors import NotFound
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.parts import service
from platform_api.parts.schemas import PartPublic, PartSummary
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND, error_doc

router = APIRouter(prefix="/v1/parts", tags=["parts"], responses=AUTH_ERRORS)
PartId = Annotated[str, Path(max_length=40, examples=["part_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]

UPLOAD_ERRORS = {
    413: error_doc("File over the size limit.", "payload_too_large", "part file is too large"),
    415: error_doc("Not a supported part format.", "unsupported_format", "'.docx' is not a part"),
    **NOT_FOUND,
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The same file was uploaded before: that part is returned."},
        **UPLOAD_ERRORS,
    },
)
def upload_part(
    file: Annotated[
        UploadFile,
        File(description="STEP/STP, STL, OBJ, PLY, 3MF or GLB; millimetres unless units say"),
    ],
    principal: PrincipalDep,
    session: SessionDep,
    ctx: ContextDep,
    response: Response,
    units: Annotated[
        str | None,
        Form(max_length=16, description="Override the file's units: mm, cm, m or inch"),
    ] = None,
) -> PartPublic:
    """Upload a part file; returns its id, features and DFM warnings."""
    principal.require("shop", "buyer", scope="write")
    part, created = service.upload(
        session=session,
        analyzer=ctx.analyzer,
        metrics=ctx.metrics,
        data_dir=ctx.settings.data_dir,
        max_bytes=ctx.settings.max_upload_bytes,
        org_id=principal.org_id,
        src=file.file,
        file_name=file.filename,
        units=units,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return service.to_public(part)


@router.get("")
def list_parts(
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[PartSummary]:
    """The calling organisation's parts, newest first."""
    principal.require("shop", "buyer", scope="read")
    rows, nxt = service.list_(session=session, org_id=principal.org_id, cursor=cursor, limit=limit)
    return Page(items=[PartSummary.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/{part_id}", responses=NOT_FOUND)
def get_part(part_id: PartId, principal: PrincipalDep, session: SessionDep) -> PartPublic:
    """A part with its features and DFM (its owner only)."""
    principal.require("shop", "buyer", scope="read")
    return service.to_public(service.get(session=session, org_id=principal.org_id, part_id=part_id))


@router.get(
    "/{part_id}/file",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file as uploaded.",
            "content": {"application/octet-stream": {"example": "ISO-10303-21; ..."}},
        },
        **NOT_FOUND,
    },
)
def download_part_file(
    part_id: PartId, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> FileResponse:
    """Download the part file as uploaded (its owner only)."""
    principal.require("shop", "buyer", scope="read")
    part = service.get(session=session, org_id=principal.org_id, part_id=part_id)
    path = ctx.settings.data_dir / part.storage_path
    if not path.is_file():
        raise NotFound("the file of this part is missing from storage", detail={"part_id": part_id})
    return FileResponse(path, filename=part.file_name, media_type="application/octet-stream")
