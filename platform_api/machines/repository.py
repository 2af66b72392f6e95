"""SQL for machines, their events, status and bookings; every query is scoped to the shop.

Events are written with one statement per batch that skips what is already stored
(``ON CONFLICT DO NOTHING``) and returns the ids it did insert: on PostgreSQL the batch travels
as arrays (``INSERT ... SELECT FROM unnest(...)``), one round trip whatever its size; on SQLite
as multi-row ``VALUES`` in chunks under the bound-parameter limit. On PostgreSQL a batch is
first tried with ``COPY`` in a savepoint (``_copy_all``), which is what a batch of new events
takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from platform_api.db.models import (
    Machine,
    MachineBooking,
    MachineEventRow,
    MachineStatus,
    MtconnectAgent,
)
from platform_api.db.upsert import insert_for
from platform_api.errors import InvalidRequest, NotFound
from platform_api.pagination import paginate

#: Columns of an event row in the order ``insert_events`` takes them (after machine_id).
EVENT_COLUMNS = (
    "event_id",
    "source",
    "observed_at",
    "availability",
    "execution",
    "controller_mode",
    "functional_mode",
    "part_count",
    "program",
    "content_hash",
)
_PG_TYPES = (
    "varchar[]",
    "varchar[]",
    "timestamptz[]",
    "varchar[]",
    "varchar[]",
    "varchar[]",
    "varchar[]",
    "bigint[]",
    "varchar[]",
    "varchar[]",
)
_SQLITE_CHUNK = 500  # rows per statement: 12 parameters each, well under SQLite's 32766


def get_owned(session: Session, *, org_id: str, machine_id: str) -> Machine | None:
    return session.exec(
        select(Machine).where(Machine.id == machine_id, Machine.org_id == org_id)
    ).first()


def list_owned(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(Machine).where(Machine.org_id == org_id)
    return paginate(session, stmt, col(Machine.id), cursor=cursor, limit=limit)


def all_of_shop(session: Session, *, org_id: str) -> list[Machine]:
    return list(
        session.exec(select(Machine).where(Machine.org_id == org_id).order_by(col(Machine.id)))
    )


def all_of_shops(session: Session, org_ids: Sequence[str]) -> list[Machine]:
    if not org_ids:
        return []
    stmt = select(Machine).where(col(Machine.org_id).in_(list(org_ids))).order_by(col(Machine.id))
    return list(session.exec(stmt))


def by_device_uuid(session: Session, *, org_id: str, uuid: str) -> Machine | None:
    return session.exec(
        select(Machine).where(Machine.org_id == org_id, Machine.mtconnect_device_uuid == uuid)
    ).first()


def delete_machine_data(session: Session, *, machine_id: str) -> None:
    """Events, status and bookings of a machine (before the machine row itself)."""
    for table in (MachineEventRow, MachineStatus, MachineBooking):
        session.exec(delete(table).where(col(table.machine_id) == machine_id))


# --- events ------------------------------------------------------------------------------------


def insert_events(
    session: Session, *, machine_id: str, rows: Sequence[tuple[Any, ...]], received_at: datetime
) -> set[str]:
    """Insert event rows (``EVENT_COLUMNS`` order) not yet stored; the event ids inserted."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        if _copy_all(session, machine_id=machine_id, rows=rows, received_at=received_at):
            return {str(r[0]) for r in rows}
        columns = list(zip(*rows, strict=True))
        params: dict[str, Any] = {"machine_id": machine_id, "received_at": received_at}
        selects = []
        for i, pg_type in enumerate(_PG_TYPES):
            params[f"c{i}"] = list(columns[i])
            selects.append(f"CAST(:c{i} AS {pg_type})")
        sql = text(
            f"INSERT INTO machine_events (machine_id, received_at, {', '.join(EVENT_COLUMNS)}) "
            f"SELECT :machine_id, :received_at, * FROM unnest({', '.join(selects)}) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        )
        return set(session.connection().execute(sql, params).scalars())
    # One statement compiled once (and cached), executed for many rows: SQLAlchemy batches
    # them into multi-row INSERTs ("insertmanyvalues"); building a VALUES clause per chunk
    # instead cost a fresh compile of ~90 ms per 100 rows.
    values = [
        {
            "machine_id": machine_id,
            "received_at": received_at,
            **dict(zip(EVENT_COLUMNS, r, strict=True)),
        }
        for r in rows
    ]
    stmt = (
        sqlite_insert(MachineEventRow)
        .on_conflict_do_nothing()
        .returning(col(MachineEventRow.event_id))
    )
    return set(session.execute(stmt, values).scalars())


def _copy_all(
    session: Session, *, machine_id: str, rows: Sequence[tuple[Any, ...]], received_at: datetime
) -> bool:
    """PostgreSQL fast path: ``COPY`` the whole batch inside a savepoint; False (and nothing
    written) if any row is already stored, for the ``ON CONFLICT`` path to sort out.

    New events are the common case (a re-sent batch or a concurrent duplicate is rare), and
    COPY is several times faster than any INSERT.
    """
    import psycopg

    raw = session.connection().connection.driver_connection
    columns = ", ".join(("machine_id", "received_at", *EVENT_COLUMNS))
    # A savepoint of our own on the driver connection (the session's transaction goes on):
    # a failed COPY aborts everything since the last savepoint.
    assert raw is not None  # typed Optional; set while the session's connection is open
    with raw.cursor() as cur:
        cur.execute("SAVEPOINT mitsumori_event_copy")
        try:
            with cur.copy(f"COPY machine_events ({columns}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((machine_id, received_at, *r))
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT mitsumori_event_copy")
            cur.execute("RELEASE SAVEPOINT mitsumori_event_copy")
            return False
        except psycopg.errors.ForeignKeyViolation:
            # The machine was deleted while its batch was being stored: nothing is written.
            cur.execute("ROLLBACK TO SAVEPOINT mitsumori_event_copy")
            cur.execute("RELEASE SAVEPOINT mitsumori_event_copy")
            raise NotFound(
                "machine not found (it was deleted while the events were stored); "
                "nothing of this batch was stored",
                detail={"machine_id": machine_id},
            ) from None
        except psycopg.errors.DataError as exc:
            cur.execute("ROLLBACK TO SAVEPOINT mitsumori_event_copy")
            cur.execute("RELEASE SAVEPOINT mitsumori_event_copy")
            raise InvalidRequest(
                f"an event value cannot be stored ({exc.diag.message_primary}); "
                "nothing of this batch was stored",
                detail={"machine_id": machine_id},
            ) from None
        cur.execute("RELEASE SAVEPOINT mitsumori_event_copy")
    return True


def hashes_of(session: Session, *, machine_id: str, event_ids: Iterable[str]) -> dict[str, str]:
    """Stored content hash of each of ``event_ids`` that exists."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(MachineEventRow.event_id, MachineEventRow.content_hash).where(
            MachineEventRow.machine_id == machine_id, col(MachineEventRow.event_id).in_(ids)
        )
    ).all()
    return dict(rows)


def events_between(
    session: Session,
    *,
    machine_id: str,
    start: datetime | None,
    end: datetime | None,
    limit: int | None = None,
) -> list[MachineEventRow]:
    """Stored events of a machine observed in [start, end), oldest first."""
    stmt = select(MachineEventRow).where(MachineEventRow.machine_id == machine_id)
    if start is not None:
        stmt = stmt.where(col(MachineEventRow.observed_at) >= start)
    if end is not None:
        stmt = stmt.where(col(MachineEventRow.observed_at) < end)
    stmt = stmt.order_by(col(MachineEventRow.observed_at), col(MachineEventRow.event_id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))


def count_events(session: Session, *, machine_id: str) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(MachineEventRow)
            .where(MachineEventRow.machine_id == machine_id)
        ).one()
    )


# --- status ------------------------------------------------------------------------------------


def lock_status(session: Session, *, machine_id: str) -> MachineStatus:
    """The machine's status row, created if missing, locked until the transaction ends.

    The lock serialises concurrent batches of one machine, so each sees the other's latest
    values (SQLite serialises every writer anyway and ignores ``FOR UPDATE``).
    """
    session.exec(
        insert_for(session, MachineStatus)
        .values(machine_id=machine_id, latest={}, state="offline", event_count=0, load={})
        .on_conflict_do_nothing(index_elements=["machine_id"])
    )
    return session.exec(
        select(MachineStatus)
        .where(MachineStatus.machine_id == machine_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def get_status(session: Session, *, machine_id: str) -> MachineStatus | None:
    return session.get(MachineStatus, machine_id)


def statuses(session: Session, machine_ids: Sequence[str]) -> dict[str, MachineStatus]:
    if not machine_ids:
        return {}
    rows = session.exec(
        select(MachineStatus).where(col(MachineStatus.machine_id).in_(list(machine_ids)))
    )
    return {r.machine_id: r for r in rows}


# --- bookings ----------------------------------------------------------------------------------


def list_bookings(
    session: Session, *, machine_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(MachineBooking).where(MachineBooking.machine_id == machine_id)
    return paginate(session, stmt, col(MachineBooking.id), cursor=cursor, limit=limit)


def bookings_for(
    session: Session, machine_ids: Sequence[str], *, not_before: datetime
) -> list[MachineBooking]:
    """Bookings of the machines that may still take time after ``not_before``.

    ``hours`` bookings are kept whatever their start (they fill free time from it on, so an
    old one can still reach into the window; the capacity code counts the part already done).
    """
    if not machine_ids:
        return []
    stmt = select(MachineBooking).where(
        col(MachineBooking.machine_id).in_(list(machine_ids)),
        (col(MachineBooking.ends_at).is_(None)) | (col(MachineBooking.ends_at) > not_before),
    )
    return list(session.exec(stmt.order_by(col(MachineBooking.starts_at))))


def booking_by_ref(session: Session, *, machine_id: str, job_ref: str) -> MachineBooking | None:
    return session.exec(
        select(MachineBooking).where(
            MachineBooking.machine_id == machine_id, MachineBooking.job_ref == job_ref
        )
    ).first()


def get_booking(session: Session, *, machine_id: str, booking_id: str) -> MachineBooking | None:
    return session.exec(
        select(MachineBooking).where(
            MachineBooking.id == booking_id, MachineBooking.machine_id == machine_id
        )
    ).first()


# --- MTConnect agents --------------------------------------------------------------------------


def agent_for(session: Session, *, org_id: str, base_url: str) -> MtconnectAgent | None:
    return session.exec(
        select(MtconnectAgent).where(
            MtconnectAgent.org_id == org_id, MtconnectAgent.base_url == base_url
        )
    ).first()


def list_agents(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[MtconnectAgent], str | None]:
    stmt = select(MtconnectAgent).where(MtconnectAgent.org_id == org_id)
    return paginate(session, stmt, MtconnectAgent.id, cursor=cursor, limit=limit)
