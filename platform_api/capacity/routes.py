"""HTTP routes: machine and shop capacity, a shop's working calendar and capabilities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from platform_api.capacity import service
from platform_api.capacity.schemas import (
    CalendarBody,
    CalendarPublic,
    CapabilitiesBody,
    MachineCapacity,
    ShopCapacityPublic,
)
from platform_api.deps import PrincipalDep, SessionDep
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND
from platform_api.shops.service import own_shop

router = APIRouter(prefix="/v1", tags=["capacity"], responses={**AUTH_ERRORS, **NOT_FOUND})
ShopId = Annotated[str, Path(max_length=40, examples=["org_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]
MachineId = Annotated[str, Path(max_length=40, examples=["mac_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]
Days = Annotated[int, Query(ge=1, le=90, description="Days ahead, from today (shop's zone)")]


@router.get("/machines/{machine_id}/capacity")
def machine_capacity(
    machine_id: MachineId, principal: PrincipalDep, session: SessionDep, days: Days = 30
) -> MachineCapacity:
    """A machine's state timeline, utilisation by hour of week, staleness and spare hours."""
    principal.require("shop", scope="read")
    return service.machine_capacity(
        session=session, org_id=principal.org_id, machine_id=machine_id, days=days
    )


@router.get("/shops/{shop_id}/capacity")
def shop_capacity(
    shop_id: ShopId, principal: PrincipalDep, session: SessionDep, days: Days = 30
) -> ShopCapacityPublic:
    """Your shop's spare machine hours per day by machine class, and each machine's state."""
    principal.require("shop", scope="read")
    return service.shop_capacity(session=session, org_id=own_shop(principal, shop_id), days=days)


@router.get("/shops/{shop_id}/calendar")
def get_calendar(shop_id: ShopId, principal: PrincipalDep, session: SessionDep) -> CalendarPublic:
    """Your shop's working calendar (the standard one until you set yours)."""
    principal.require("shop", scope="read")
    return service.get_calendar(session=session, org_id=own_shop(principal, shop_id))


@router.put("/shops/{shop_id}/calendar")
def put_calendar(
    shop_id: ShopId, body: CalendarBody, principal: PrincipalDep, session: SessionDep
) -> CalendarPublic:
    """Set your shop's working calendar: shifts per weekday, holidays, time zone."""
    principal.require("shop", scope="write")
    return service.set_calendar(session=session, org_id=own_shop(principal, shop_id), body=body)


@router.get("/shops/{shop_id}/capabilities")
def get_capabilities(
    shop_id: ShopId, principal: PrincipalDep, session: SessionDep
) -> CapabilitiesBody:
    """The materials your shop declares and its base lead days."""
    principal.require("shop", scope="read")
    return service.get_capabilities(session=session, org_id=own_shop(principal, shop_id))


@router.put("/shops/{shop_id}/capabilities")
def put_capabilities(
    shop_id: ShopId, body: CapabilitiesBody, principal: PrincipalDep, session: SessionDep
) -> CapabilitiesBody:
    """Declare the materials your shop cuts and its base lead days (matching uses them)."""
    principal.require("shop", scope="write")
    return service.set_capabilities(session=session, org_id=own_shop(principal, shop_id), body=body)
