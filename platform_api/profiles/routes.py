"""HTTP route: /v1/shops/{shop_id}/profile (computed capability statistics)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.profiles import service
from platform_api.profiles.schemas import ProfilePublic
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1/shops", tags=["shops"], responses={**AUTH_ERRORS, **NOT_FOUND})
ShopId = Annotated[str, Path(max_length=40, examples=["org_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]


@router.get("/{shop_id}/profile")
def get_profile(
    shop_id: ShopId, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> ProfilePublic:
    """A shop's computed profile: what it makes, win and on-time rates, price level (read-only;
    a shop sees its own, buyers see any shop's)."""
    principal.require(scope="read")
    return service.get_profile(
        session=session, principal=principal, shop_id=shop_id, models=ctx.models
    )
