"""Machines of a shop: create, read, update, delete (its own only)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from platform_api.db.models import Machine
from platform_api.db.types import utcnow
from platform_api.errors import NotFound
from platform_api.ids import new_id
from platform_api.machines import repository
from platform_api.machines.schemas import MachineCreate, MachinePublic, MachineUpdate


def to_public(m: Machine) -> MachinePublic:
    """Row to response (the envelope is three columns in the table, one object in JSON)."""
    return MachinePublic(
        id=m.id,
        org_id=m.org_id,
        name=m.name,
        machine_type=m.machine_type,  # type: ignore[arg-type]
        axes=m.axes,
        envelope_mm={"x": m.envelope_x_mm, "y": m.envelope_y_mm, "z": m.envelope_z_mm},  # type: ignore[arg-type]
        controller=m.controller,
        hourly_rate_jpy=m.hourly_rate_jpy,
        mtconnect_device_uuid=m.mtconnect_device_uuid,
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


def create(*, session: Session, org_id: str, body: MachineCreate) -> Machine:
    """Declare a machine for shop ``org_id``."""
    m = Machine(
        id=new_id("mac"),
        org_id=org_id,
        name=body.name,
        machine_type=body.machine_type,
        axes=body.axes,
        envelope_x_mm=body.envelope_mm.x,
        envelope_y_mm=body.envelope_mm.y,
        envelope_z_mm=body.envelope_mm.z,
        controller=body.controller,
        hourly_rate_jpy=body.hourly_rate_jpy,
        mtconnect_device_uuid=body.mtconnect_device_uuid,
    )
    session.add(m)
    session.flush()
    return m


def get(*, session: Session, org_id: str, machine_id: str) -> Machine:
    """A machine of ``org_id``; ``NotFound`` if missing or another shop's."""
    m = repository.get_owned(session, org_id=org_id, machine_id=machine_id)
    if m is None:
        raise NotFound(f"no machine {machine_id}", detail={"machine_id": machine_id})
    return m


def list_(
    *, session: Session, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Machines of ``org_id``, newest first."""
    return repository.list_owned(session, org_id=org_id, cursor=cursor, limit=limit)


def update(*, session: Session, org_id: str, machine_id: str, body: MachineUpdate) -> Machine:
    """Change the given fields of a machine."""
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    changes = body.model_dump(exclude_unset=True)
    envelope = changes.pop("envelope_mm", None)
    for key, value in changes.items():
        if value is not None or key in ("controller", "mtconnect_device_uuid"):
            setattr(m, key, value)
    if envelope is not None:
        m.envelope_x_mm, m.envelope_y_mm, m.envelope_z_mm = (
            envelope["x"],
            envelope["y"],
            envelope["z"],
        )
    m.updated_at = utcnow()
    session.add(m)
    session.flush()
    return m


def delete(*, session: Session, org_id: str, machine_id: str) -> None:
    """Remove a machine."""
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    session.delete(m)
    session.flush()
