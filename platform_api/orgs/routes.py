"""HTTP routes: /v1/me, /v1/organizations, /v1/api-keys (admin), /v1/shops (directory)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from platform_api.db.models import ApiKey
from platform_api.deps import PrincipalDep, SessionDep
from platform_api.orgs import service
from platform_api.orgs.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    Me,
    OrganizationCreate,
    OrganizationPublic,
    OrgKind,
    ShopPublic,
)
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1", responses=AUTH_ERRORS)

OrgId = Annotated[
    str, Path(max_length=40, examples=["org_0193b1c2d3e4f5a6b7c8d9e0f1a2"], description="org id")
]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/me", tags=["organizations"])
def me(principal: PrincipalDep, session: SessionDep) -> Me:
    """The calling key and its organisation (any role)."""
    org = service.get_org(session=session, org_id=principal.org_id)
    key = session.get(ApiKey, principal.key_id)
    return Me(
        organization=OrganizationPublic.model_validate(org),
        key=ApiKeyPublic.model_validate(key),
    )


@router.post("/organizations", status_code=status.HTTP_201_CREATED, tags=["organizations"])
def create_organization(
    body: OrganizationCreate, principal: PrincipalDep, session: SessionDep
) -> OrganizationPublic:
    """Create a shop, buyer or admin organisation (admin)."""
    principal.require("admin", scope="write")
    return OrganizationPublic.model_validate(service.create_org(session=session, body=body))


@router.get("/organizations", tags=["organizations"])
def list_organizations(
    principal: PrincipalDep,
    session: SessionDep,
    kind: OrgKind | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[OrganizationPublic]:
    """All organisations, newest first (admin)."""
    principal.require("admin", scope="read")
    rows, nxt = service.list_orgs(session=session, kind=kind, cursor=cursor, limit=limit)
    return Page(items=[OrganizationPublic.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/organizations/{org_id}", tags=["organizations"], responses=NOT_FOUND)
def get_organization(
    org_id: OrgId, principal: PrincipalDep, session: SessionDep
) -> OrganizationPublic:
    """One organisation (admin)."""
    principal.require("admin", scope="read")
    return OrganizationPublic.model_validate(service.get_org(session=session, org_id=org_id))


@router.post(
    "/organizations/{org_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    tags=["api keys"],
    responses=NOT_FOUND,
)
def create_api_key(
    org_id: OrgId, body: ApiKeyCreate, principal: PrincipalDep, session: SessionDep
) -> ApiKeyCreated:
    """Issue a key for an organisation; the response holds the secret, shown only this once."""
    principal.require("admin", scope="write")
    row, key = service.create_key(session=session, org_id=org_id, body=body)
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=key)


@router.get("/organizations/{org_id}/api-keys", tags=["api keys"], responses=NOT_FOUND)
def list_api_keys(
    org_id: OrgId,
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ApiKeyPublic]:
    """An organisation's keys without their secrets (admin)."""
    principal.require("admin", scope="read")
    rows, nxt = service.list_keys(session=session, org_id=org_id, cursor=cursor, limit=limit)
    return Page(items=[ApiKeyPublic.model_validate(r) for r in rows], next_cursor=nxt)


@router.delete("/api-keys/{key_id}", tags=["api keys"], responses=NOT_FOUND)
def revoke_api_key(
    key_id: Annotated[str, Path(max_length=40, examples=["key_0193b1c2d3e4f5a6b7c8d9e0f1a2"])],
    principal: PrincipalDep,
    session: SessionDep,
) -> ApiKeyPublic:
    """Revoke a key (admin); it is refused with 401 from then on."""
    principal.require("admin", scope="write")
    return ApiKeyPublic.model_validate(service.revoke_key(session=session, key_id=key_id))


@router.get("/shops", tags=["shops"])
def list_shops(
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ShopPublic]:
    """The shop directory: public profile of every shop (any role)."""
    principal.require(scope="read")
    rows, nxt = service.list_orgs(session=session, kind="shop", cursor=cursor, limit=limit)
    return Page(items=[ShopPublic.model_validate(r) for r in rows], next_cursor=nxt)
