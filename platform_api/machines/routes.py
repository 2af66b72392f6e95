"""HTTP routes: /v1/machines (a shop's own machines), their events and bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.machines import service
from platform_api.machines.schemas import (
    EVENT_PUBLIC_EXAMPLE,
    BookingCreate,
    BookingPublic,
    EventBatch,
    IngestResult,
    MachineCreate,
    MachineEventPublic,
    MachinePublic,
    MachineUpdate,
    MqttCredentials,
)
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1/machines", tags=["machines"], responses=AUTH_ERRORS)
MachineId = Annotated[str, Path(max_length=40, examples=["mac_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_machine(
    body: MachineCreate, principal: PrincipalDep, session: SessionDep
) -> MachinePublic:
    """Declare a machine of the calling shop."""
    principal.require("shop", scope="write")
    return service.to_public(service.create(session=session, org_id=principal.org_id, body=body))


@router.get("")
def list_machines(
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[MachinePublic]:
    """The calling shop's machines with their live state, newest first."""
    principal.require("shop", scope="read")
    rows, nxt = service.list_(session=session, org_id=principal.org_id, cursor=cursor, limit=limit)
    st = service.statuses(session=session, machine_ids=[r.id for r in rows])
    return Page(items=[service.to_public(r, st.get(r.id)) for r in rows], next_cursor=nxt)


@router.get("/mqtt-credentials")
def mqtt_credentials(principal: PrincipalDep, ctx: ContextDep) -> MqttCredentials:
    """The calling shop's MQTT user, password and topic (the broker lets it publish only there)."""
    principal.require("shop", scope="write")
    return service.mqtt_credentials(settings=ctx.settings, org_id=principal.org_id)


@router.get("/{machine_id}", responses=NOT_FOUND)
def get_machine(
    machine_id: MachineId, principal: PrincipalDep, session: SessionDep
) -> MachinePublic:
    """One of the calling shop's machines, with its live state."""
    principal.require("shop", scope="read")
    m = service.get(session=session, org_id=principal.org_id, machine_id=machine_id)
    return service.to_public(m, service.status_of(session=session, machine_id=m.id))


@router.patch("/{machine_id}", responses=NOT_FOUND)
def update_machine(
    machine_id: MachineId, body: MachineUpdate, principal: PrincipalDep, session: SessionDep
) -> MachinePublic:
    """Change some fields of a machine."""
    principal.require("shop", scope="write")
    m = service.update(session=session, org_id=principal.org_id, machine_id=machine_id, body=body)
    return service.to_public(m, service.status_of(session=session, machine_id=m.id))


@router.delete("/{machine_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_machine(machine_id: MachineId, principal: PrincipalDep, session: SessionDep) -> Response:
    """Remove a machine (with its events and bookings)."""
    principal.require("shop", scope="write")
    service.delete(session=session, org_id=principal.org_id, machine_id=machine_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{machine_id}/events", responses=NOT_FOUND)
def post_events(
    machine_id: MachineId,
    body: EventBatch,
    principal: PrincipalDep,
    session: SessionDep,
    ctx: ContextDep,
) -> IngestResult:
    """Report machine events (idempotent by event_id); bad events are rejected one by one."""
    principal.require("shop", scope="write")
    return service.post_events(
        session=session,
        org_id=principal.org_id,
        machine_id=machine_id,
        payloads=body.events,
        metrics=ctx.metrics,
    )


@router.get(
    "/{machine_id}/events",
    responses={
        200: {"content": {"application/json": {"example": [EVENT_PUBLIC_EXAMPLE]}}},
        **NOT_FOUND,
    },
)
def list_events(
    machine_id: MachineId,
    principal: PrincipalDep,
    session: SessionDep,
    since: Annotated[datetime | None, Query(description="ISO 8601; oldest first from it")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[MachineEventPublic]:
    """Stored events of the machine, oldest first from ``since``."""
    principal.require("shop", scope="read")
    rows = service.recent_events(
        session=session, org_id=principal.org_id, machine_id=machine_id, start=since, limit=limit
    )
    return [
        MachineEventPublic(
            event_id=r.event_id,
            source=r.source,
            timestamp=r.observed_at,
            availability=r.availability,
            execution=r.execution,
            controller_mode=r.controller_mode,
            functional_mode=r.functional_mode,
            part_count=r.part_count,
            program=r.program,
        )
        for r in rows
    ]


@router.post("/{machine_id}/bookings", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
def create_booking(
    machine_id: MachineId, body: BookingCreate, principal: PrincipalDep, session: SessionDep
) -> BookingPublic:
    """Book work ahead on the machine (start and end, or start and hours; a job reference)."""
    principal.require("shop", scope="write")
    b = service.create_booking(
        session=session, org_id=principal.org_id, machine_id=machine_id, body=body
    )
    return service.booking_public(b)


@router.get("/{machine_id}/bookings", responses=NOT_FOUND)
def list_bookings(
    machine_id: MachineId,
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[BookingPublic]:
    """The machine's bookings, newest first."""
    principal.require("shop", scope="read")
    rows, nxt = service.list_bookings(
        session=session, org_id=principal.org_id, machine_id=machine_id, cursor=cursor, limit=limit
    )
    return Page(items=[service.booking_public(b) for b in rows], next_cursor=nxt)


@router.delete(
    "/{machine_id}/bookings/{booking_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
def delete_booking(
    machine_id: MachineId,
    booking_id: Annotated[str, Path(max_length=40, examples=["bkg_0193b1c2d3e4f5a6b7c8d9e0f1a2"])],
    principal: PrincipalDep,
    session: SessionDep,
) -> Response:
    """Cancel a booking."""
    principal.require("shop", scope="write")
    service.delete_booking(
        session=session, org_id=principal.org_id, machine_id=machine_id, booking_id=booking_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
