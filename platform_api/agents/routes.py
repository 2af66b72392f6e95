"""HTTP routes: /v1/shops/{shop_id}/mtconnect-agents (the shop's own only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from platform_api.agents import service
from platform_api.agents.schemas import AgentPublic
from platform_api.deps import PrincipalDep, SessionDep
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1/shops", tags=["mtconnect agents"], responses=AUTH_ERRORS)
ShopId = Annotated[str, Path(max_length=40, examples=["org_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]


@router.get("/{shop_id}/mtconnect-agents", responses=NOT_FOUND)
def list_agents(
    shop_id: ShopId,
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[AgentPublic]:
    """The shop's MTConnect agents with their poller's state: ok, backing_off or error."""
    principal.require("shop", scope="read")
    items, nxt = service.list_agents(
        session=session, principal=principal, shop_id=shop_id, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=nxt)
