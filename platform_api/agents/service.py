"""Listing a shop's MTConnect agents (the shop's own only)."""

from __future__ import annotations

from sqlmodel import Session

from platform_api.agents.schemas import AgentPublic
from platform_api.db.models import MtconnectAgent
from platform_api.machines import repository as machines_repository
from platform_api.security import Principal
from platform_api.shops.service import own_shop


def to_public(row: MtconnectAgent) -> AgentPublic:
    return AgentPublic.model_validate(row, from_attributes=True)


def list_agents(
    *, session: Session, principal: Principal, shop_id: str, cursor: str | None, limit: int
) -> tuple[list[AgentPublic], str | None]:
    """The shop's agents, newest first; 404 for another shop's id."""
    own_shop(principal, shop_id)
    rows, nxt = machines_repository.list_agents(session, org_id=shop_id, cursor=cursor, limit=limit)
    return [to_public(r) for r in rows], nxt
