"""HTTP routes: /v1/rfqs (send, list, read, file, respond, partners)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import FileResponse

from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.rfqs import service
from platform_api.rfqs.schemas import (
    PartnersPublic,
    PartnersRequest,
    RespondBody,
    RfqCreate,
    RfqPublic,
)
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1/rfqs", tags=["rfqs"], responses={**AUTH_ERRORS, **NOT_FOUND})
RfqId = Annotated[str, Path(max_length=40, examples=["rfq_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]


@router.post("", status_code=status.HTTP_201_CREATED)
def send_rfq(
    body: RfqCreate, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> RfqPublic:
    """Send your part to the shops you chose (from a match, or a part and spec) (buyer)."""
    return service.create(session=session, ctx=ctx, principal=principal, body=body)


@router.get("")
def list_rfqs(
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[RfqPublic]:
    """Buyer: your RFQs and every answer. Shop: the RFQs sent to you. Newest first."""
    items, nxt = service.list_(session=session, principal=principal, cursor=cursor, limit=limit)
    return Page(items=items, next_cursor=nxt)


@router.get("/{rfq_id}")
def get_rfq(rfq_id: RfqId, principal: PrincipalDep, session: SessionDep) -> RfqPublic:
    """An RFQ you sent, or one sent to you."""
    row, recipients = service.visible(session=session, principal=principal, rfq_id=rfq_id)
    return service.to_public(session, row, recipients)


@router.get(
    "/{rfq_id}/file",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file as the buyer uploaded it.",
            "content": {"application/octet-stream": {"example": "ISO-10303-21; ..."}},
        }
    },
)
def get_rfq_file(
    rfq_id: RfqId, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> FileResponse:
    """Download the RFQ's part file (its buyer and the shops it was sent to only)."""
    path, name = service.part_file(
        session=session, principal=principal, rfq_id=rfq_id, data_dir=ctx.settings.data_dir
    )
    return FileResponse(path, filename=name, media_type="application/octet-stream")


@router.post("/{rfq_id}/respond")
def respond(
    rfq_id: RfqId, body: RespondBody, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> RfqPublic:
    """Accept with a quote (priced by your model) or decline with a reason (shop, once)."""
    return service.respond(session=session, ctx=ctx, principal=principal, rfq_id=rfq_id, body=body)


@router.post("/{rfq_id}/partners")
def partners(
    rfq_id: RfqId,
    principal: PrincipalDep,
    session: SessionDep,
    ctx: ContextDep,
    body: PartnersRequest | None = None,
) -> PartnersPublic:
    """Shops you could pass this RFQ to, ranked as for a buyer (shop it was sent to)."""
    k = (body or PartnersRequest()).k
    return service.partners(session=session, ctx=ctx, principal=principal, rfq_id=rfq_id, k=k)
