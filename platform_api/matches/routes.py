"""HTTP routes: /v1/match (ranked shops for a part), /v1/match/batch, /v1/match/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.matches import service
from platform_api.matches.schemas import BatchPublic, BatchRequest, MatchPublic, MatchRequest
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1/match", tags=["matching"], responses={**AUTH_ERRORS, **NOT_FOUND})


@router.post("")
def match(
    body: MatchRequest, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> MatchPublic:
    """Shops that can make your part, ranked, each with its own price, lead time, spare
    capacity before needed_by, distance and the reasons (buyer)."""
    return service.match(session=session, ctx=ctx, principal=principal, body=body)


@router.post("/batch")
def match_batch(
    body: BatchRequest, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> BatchPublic:
    """Assign many parts across shops under their spare capacity (buyer)."""
    return service.batch(session=session, ctx=ctx, principal=principal, body=body)


@router.get("/{match_id}")
def get_match(
    match_id: Annotated[str, Path(max_length=40, examples=["mat_0193b1c2d3e4f5a6b7c8d9e0f1a2"])],
    principal: PrincipalDep,
    session: SessionDep,
) -> MatchPublic:
    """A match you made."""
    return service.to_public(service.get(session=session, principal=principal, match_id=match_id))
