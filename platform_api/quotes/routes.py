"""HTTP routes: /v1/quotes (create, read, list) and /v1/quotes/{id}/outcome."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, cast

from fastapi import APIRouter, Path, Query, status

from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.quotes import service
from platform_api.quotes.schemas import (
    OutcomeCreate,
    QuoteCreate,
    QuotePublic,
    QuoteStatus,
    QuoteSummary,
)
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1/quotes", tags=["quotes"], responses=AUTH_ERRORS)
QuoteId = Annotated[str, Path(max_length=40, examples=["quo_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]


@router.post("", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
def create_quote(
    body: QuoteCreate, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> QuotePublic:
    """Quote one of your parts; returns the stored quote in the engine's JSON contract."""
    principal.require("shop", "buyer", scope="write")
    q = service.create(
        session=session, models=ctx.models, metrics=ctx.metrics, principal=principal, body=body
    )
    return service.to_public(q)


@router.get("")
def list_quotes(
    principal: PrincipalDep,
    session: SessionDep,
    shop: Annotated[str | None, Query(max_length=40, description="shop id that priced")] = None,
    material: Annotated[str | None, Query(max_length=64, examples=["A5052"])] = None,
    status: QuoteStatus | None = None,
    part_id: Annotated[str | None, Query(max_length=40)] = None,
    created_from: Annotated[
        date | datetime | None, Query(description="inclusive, date or ISO 8601 instant")
    ] = None,
    created_to: Annotated[
        date | datetime | None, Query(description="exclusive instant; a date includes that day")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[QuoteSummary]:
    """Quotes you requested (or, for a shop, priced), newest first."""
    principal.require("shop", "buyer", scope="read")
    rows, nxt = service.list_(
        session=session,
        principal=principal,
        shop=shop,
        material=material,
        status=status,
        part_id=part_id,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        limit=limit,
    )
    return Page(
        items=[
            QuoteSummary(
                id=q.id,
                part_id=q.part_id,
                status=cast(QuoteStatus, q.status),  # a str column; pydantic checks it
                requester_id=q.requester_org_id,
                shop_id=q.shop_org_id,
                material=q.material,
                quantity=q.quantity,
                unit_price=q.unit_price,
                total_price=q.total_price,
                currency=q.currency,
                model_version=q.model_version,
                created_at=q.created_at,
            )
            for q in rows
        ],
        next_cursor=nxt,
    )


@router.get("/{quote_id}", responses=NOT_FOUND)
def get_quote(quote_id: QuoteId, principal: PrincipalDep, session: SessionDep) -> QuotePublic:
    """A quote you requested or priced, with its latest outcome."""
    principal.require("shop", "buyer", scope="read")
    q, outcome = service.get(session=session, principal=principal, quote_id=quote_id)
    return service.to_public(q, outcome)


@router.post("/{quote_id}/outcome", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
def record_outcome(
    quote_id: QuoteId, body: OutcomeCreate, principal: PrincipalDep, session: SessionDep
) -> QuotePublic:
    """Record what became of a quote you priced (shop): sent, won, lost or no bid."""
    principal.require("shop", scope="write")
    q, outcome = service.record_outcome(
        session=session, principal=principal, quote_id=quote_id, body=body
    )
    return service.to_public(q, outcome)
