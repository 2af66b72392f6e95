"""SQL for jobs, including the atomic claim that lets any number of workers share the queue.

Claim: one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1 [FOR UPDATE SKIP LOCKED]) AND status =
'queued'``. PostgreSQL skips rows another worker is claiming; SQLite has a single writer, and the
``status = 'queued'`` guard makes a lost race update nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from platform_api.db.models import Job
from platform_api.db.types import utcnow
from platform_api.ids import new_id
from platform_api.pagination import paginate


def create(
    session: Session,
    *,
    org_id: str,
    kind: str,
    params: dict[str, Any],
    max_attempts: int,
    job_id: str | None = None,
) -> Job:
    job = Job(
        id=job_id or new_id("job"),
        org_id=org_id,
        kind=kind,
        params=params,
        max_attempts=max_attempts,
    )
    session.add(job)
    session.flush()
    return job


def get_owned(session: Session, *, org_id: str, job_id: str) -> Job | None:
    return session.exec(select(Job).where(Job.id == job_id, Job.org_id == org_id)).first()


def list_owned(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(Job).where(Job.org_id == org_id)
    return paginate(session, stmt, col(Job.id), cursor=cursor, limit=limit)


def claim(session: Session, *, worker_id: str) -> str | None:
    """Mark the oldest queued job running for ``worker_id``; its id, or None if none is queued."""
    now = utcnow()
    oldest = (
        select(Job.id)
        .where(Job.status == "queued")
        .order_by(col(Job.id))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(Job)
        .where(col(Job.id) == oldest, col(Job.status) == "queued")
        .values(
            status="running",
            locked_by=worker_id,
            heartbeat_at=now,
            started_at=now,
            attempts=col(Job.attempts) + 1,
        )
        .returning(col(Job.id))
    )
    return session.exec(stmt).scalar_one_or_none()


def heartbeat(
    session: Session,
    *,
    job_id: str,
    worker_id: str,
    progress: float | None = None,
    message: str | None = None,
) -> bool:
    """Refresh the heartbeat (and progress); False if the job is no longer this worker's."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, progress))
    if message is not None:
        values["message"] = message[:2000]
    stmt = (
        update(Job)
        .where(col(Job.id) == job_id, col(Job.locked_by) == worker_id, col(Job.status) == "running")
        .values(**values)
    )
    return bool(session.exec(stmt).rowcount)


def finish(
    session: Session,
    *,
    job_id: str,
    worker_id: str,
    status: str,
    message: str,
    result: dict[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> bool:
    values: dict[str, Any] = {
        "status": status,
        "message": message[:2000],
        "finished_at": utcnow(),
        "locked_by": None,
    }
    if status == "succeeded":
        values["progress"] = 1.0
    if result is not None:
        values["result"] = result
    if errors is not None:
        values["errors"] = errors
    stmt = (
        update(Job)
        .where(col(Job.id) == job_id, col(Job.locked_by) == worker_id, col(Job.status) == "running")
        .values(**values)
    )
    return bool(session.exec(stmt).rowcount)


def release(session: Session, *, job_id: str, worker_id: str, message: str) -> bool:
    """Give a job back to the queue on a clean shutdown (the attempt is not counted)."""
    stmt = (
        update(Job)
        .where(col(Job.id) == job_id, col(Job.locked_by) == worker_id, col(Job.status) == "running")
        .values(
            status="queued",
            locked_by=None,
            message=message[:2000],
            attempts=col(Job.attempts) - 1,
        )
    )
    return bool(session.exec(stmt).rowcount)


def recover_stale(session: Session, *, cutoff: datetime) -> tuple[int, int]:
    """Jobs whose worker stopped heartbeating before ``cutoff``: requeue, or fail when out of tries.

    Returns (requeued, failed).
    """
    stale = (
        col(Job.status) == "running",
        col(Job.heartbeat_at) < cutoff,
    )
    failed = session.exec(
        update(Job)
        .where(*stale, col(Job.attempts) >= col(Job.max_attempts))
        .values(
            status="failed",
            locked_by=None,
            finished_at=utcnow(),
            message="worker lost: the process running this job stopped (crash or kill) "
            "and it has used all its attempts",
        )
    ).rowcount
    requeued = session.exec(
        update(Job)
        .where(*stale, col(Job.attempts) < col(Job.max_attempts))
        .values(
            status="queued",
            locked_by=None,
            message="requeued: the process running this job stopped; it resumes where it was",
        )
    ).rowcount
    return int(requeued), int(failed)


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)
