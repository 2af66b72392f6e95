"""HTTP routes: /v1/machines (a shop's own machines)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from platform_api.deps import PrincipalDep, SessionDep
from platform_api.machines import service
from platform_api.machines.schemas import MachineCreate, MachinePublic, MachineUpdate
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
    """The calling shop's machines, newest first."""
    principal.require("shop", scope="read")
    rows, nxt = service.list_(session=session, org_id=principal.org_id, cursor=cursor, limit=limit)
    return Page(items=[service.to_public(r) for r in rows], next_cursor=nxt)


@router.get("/{machine_id}", responses=NOT_FOUND)
def get_machine(
    machine_id: MachineId, principal: PrincipalDep, session: SessionDep
) -> MachinePublic:
    """One of the calling shop's machines."""
    principal.require("shop", scope="read")
    m = service.get(session=session, org_id=principal.org_id, machine_id=machine_id)
    return service.to_public(m)


@router.patch("/{machine_id}", responses=NOT_FOUND)
def update_machine(
    machine_id: MachineId, body: MachineUpdate, principal: PrincipalDep, session: SessionDep
) -> MachinePublic:
    """Change some fields of a machine."""
    principal.require("shop", scope="write")
    m = service.update(session=session, org_id=principal.org_id, machine_id=machine_id, body=body)
    return service.to_public(m)


@router.delete("/{machine_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_machine(machine_id: MachineId, principal: PrincipalDep, session: SessionDep) -> Response:
    """Remove a machine."""
    principal.require("shop", scope="write")
    service.delete(session=session, org_id=principal.org_id, machine_id=machine_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
