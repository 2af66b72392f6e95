"""Machines of a shop: create, read, update, delete (its own only), their events and bookings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlmodel import Session

from platform_api.db.models import Machine, MachineBooking, MachineStatus
from platform_api.db.types import utcnow
from platform_api.errors import Conflict, NotFound
from platform_api.ids import new_id
from platform_api.machines import ingest, repository
from platform_api.machines.schemas import (
    BookingCreate,
    BookingPublic,
    Envelope,
    EventRejection,
    IngestResult,
    MachineCreate,
    MachinePublic,
    MachineType,
    MachineUpdate,
    MqttCredentials,
)
from platform_api.metrics import Metrics
from platform_api.settings import Settings

#: Machine type -> the class matching and capacity use (others are kept but never matched).
MATCH_CLASS = {
    "3-axis": "3-axis",
    "4-axis": "4-axis",
    "5-axis": "5-axis",
    "lathe": "lathe",
    "swiss-lathe": "lathe",
    "mill-turn": "mill-turn",
}
#: Machine type -> the quote catalog machine whose figures stand in for undeclared ones
#: (tightest tolerance, typical travel, rate); see data/catalogs/machines.yaml for sources.
CATALOG_MACHINE = {
    "3-axis": "vmc_3axis",
    "4-axis": "vmc_3axis",
    "5-axis": "mc_5axis",
    "lathe": "lathe_cnc",
    "swiss-lathe": "swiss",
    "mill-turn": "mill_turn",
}
FALLBACK_TOLERANCE_MM = 0.02  # types the catalog has no machine for (EDM, grinders, other)


def typical_tolerance_mm(machine_type: str) -> float:
    """The tightest +- mm a machine of this type holds, from the quote catalog (``limit``)."""
    name = CATALOG_MACHINE.get(machine_type)
    if name is None:
        return FALLBACK_TOLERANCE_MM
    from quote.catalogs import load_catalog

    return float(load_catalog().machine(name).limit_tolerance_mm)


def typical_envelope_mm(machine_type: str) -> tuple[float, float, float]:
    """Typical travel of a machine type (catalog), for machines whose probe gives none."""
    from quote.catalogs import load_catalog

    name = CATALOG_MACHINE.get(machine_type, "vmc_3axis")
    env = load_catalog().machine(name).envelope_mm
    return (float(env[0]), float(env[1]), float(env[2]))


def typical_rate_jpy(machine_type: str) -> float:
    from quote.catalogs import load_catalog

    return float(
        load_catalog().machine(CATALOG_MACHINE.get(machine_type, "vmc_3axis")).hourly_rate_jpy
    )


def to_public(m: Machine, status: MachineStatus | None = None) -> MachinePublic:
    """Row to response (the envelope is three columns in the table, one object in JSON)."""
    return MachinePublic(
        id=m.id,
        org_id=m.org_id,
        name=m.name,
        machine_type=cast(MachineType, m.machine_type),  # a str column; pydantic checks it
        axes=m.axes,
        envelope_mm=Envelope(x=m.envelope_x_mm, y=m.envelope_y_mm, z=m.envelope_z_mm),
        controller=m.controller,
        hourly_rate_jpy=m.hourly_rate_jpy,
        mtconnect_device_uuid=m.mtconnect_device_uuid,
        tolerance_mm=m.tolerance_mm,
        created_at=m.created_at,
        updated_at=m.updated_at,
        envelope_source=m.envelope_source,
        state=status.state if status is not None else "offline",
        last_seen=status.last_event_at if status is not None else None,
    )


def create(
    *, session: Session, org_id: str, body: MachineCreate, envelope_source: str = "declared"
) -> Machine:
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
        tolerance_mm=body.tolerance_mm,
        envelope_source=envelope_source,
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


def status_of(*, session: Session, machine_id: str) -> MachineStatus | None:
    return repository.get_status(session, machine_id=machine_id)


def list_(
    *, session: Session, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Machines of ``org_id``, newest first."""
    return repository.list_owned(session, org_id=org_id, cursor=cursor, limit=limit)


def statuses(*, session: Session, machine_ids: list[str]) -> dict[str, MachineStatus]:
    return repository.statuses(session, machine_ids)


def update(*, session: Session, org_id: str, machine_id: str, body: MachineUpdate) -> Machine:
    """Change the given fields of a machine."""
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    changes = body.model_dump(exclude_unset=True)
    envelope = changes.pop("envelope_mm", None)
    for key, value in changes.items():
        if value is not None or key in ("controller", "mtconnect_device_uuid", "tolerance_mm"):
            setattr(m, key, value)
    if envelope is not None:
        m.envelope_x_mm, m.envelope_y_mm, m.envelope_z_mm = (
            envelope["x"],
            envelope["y"],
            envelope["z"],
        )
        m.envelope_source = "declared"
    m.updated_at = utcnow()
    session.add(m)
    session.flush()
    return m


def delete(*, session: Session, org_id: str, machine_id: str) -> None:
    """Remove a machine with its events, status and bookings."""
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    repository.delete_machine_data(session, machine_id=m.id)
    session.delete(m)
    session.flush()


# --- events --------------------------------------------------------------------------------------


def post_events(
    *,
    session: Session,
    org_id: str,
    machine_id: str,
    payloads: list[Any],
    metrics: Metrics | None,
    now: datetime | None = None,
) -> IngestResult:
    """Store a batch of JSON events for a machine of ``org_id`` (404 for another shop's)."""
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    report = ingest.ingest_json(
        session=session,
        shop=org_id,
        machine_id=m.id,
        payloads=payloads,
        source="rest",
        metrics=metrics,
        now=now,
    )
    status = repository.get_status(session, machine_id=m.id)
    return IngestResult(
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=[EventRejection(**r.__dict__) for r in report.rejected],
        state=status.state if status is not None else "offline",
        last_seen=status.last_event_at if status is not None else None,
    )


def recent_events(
    *, session: Session, org_id: str, machine_id: str, start: datetime | None, limit: int
) -> list[Any]:
    """Stored events of a machine from ``start`` on (oldest first), at most ``limit``."""
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    return repository.events_between(session, machine_id=m.id, start=start, end=None, limit=limit)


# --- bookings ------------------------------------------------------------------------------------


def booking_public(b: MachineBooking) -> BookingPublic:
    return BookingPublic(
        id=b.id,
        machine_id=b.machine_id,
        start=b.starts_at,
        end=b.ends_at,
        hours=b.hours,
        job_ref=b.job_ref,
        created_at=b.created_at,
    )


def create_booking(
    *, session: Session, org_id: str, machine_id: str, body: BookingCreate
) -> MachineBooking:
    """Book work on a machine; a job reference already booked on it is a conflict."""
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    if repository.booking_by_ref(session, machine_id=m.id, job_ref=body.job_ref) is not None:
        raise Conflict(
            f"job {body.job_ref!r} is already booked on this machine; delete that booking first",
            detail={"job_ref": body.job_ref},
        )
    b = MachineBooking(
        id=new_id("bkg"),
        machine_id=m.id,
        org_id=org_id,
        starts_at=body.start.astimezone(UTC),
        ends_at=body.end.astimezone(UTC) if body.end is not None else None,
        hours=body.hours,
        job_ref=body.job_ref,
    )
    session.add(b)
    session.flush()
    return b


def list_bookings(
    *, session: Session, org_id: str, machine_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    return repository.list_bookings(session, machine_id=m.id, cursor=cursor, limit=limit)


def delete_booking(*, session: Session, org_id: str, machine_id: str, booking_id: str) -> None:
    m = get(session=session, org_id=org_id, machine_id=machine_id)
    b = repository.get_booking(session, machine_id=m.id, booking_id=booking_id)
    if b is None:
        raise NotFound(
            f"no booking {booking_id} on this machine", detail={"booking_id": booking_id}
        )
    session.delete(b)
    session.flush()


def mqtt_credentials(*, settings: Settings, org_id: str) -> MqttCredentials:
    """The shop's broker user (its id), its derived password and its topic."""
    from platform_api.ingest.broker import mqtt_password
    from platform_api.ingest.mqtt import parse_url
    from platform_api.web.session import secret_key

    broker = None
    if settings.mqtt_managed_port:
        broker = f"127.0.0.1:{settings.mqtt_managed_port}"
    elif settings.mqtt_url:
        address = parse_url(settings.mqtt_url)
        broker = f"{address.host}:{address.port}"
    return MqttCredentials(
        broker=broker,
        username=org_id,
        password=mqtt_password(secret_key(settings), org_id),
        topic=f"{settings.mqtt_prefix}/{org_id}/{{machine_id}}/state",
    )
