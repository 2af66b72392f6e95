"""Jobs as their owners see them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from platform_api.db.models import Job
from platform_api.errors import NotFound
from platform_api.jobs import repository


def get(*, session: Session, org_id: str, job_id: str) -> Job:
    """A job of ``org_id``; ``NotFound`` for missing ones and other companies' jobs."""
    job = repository.get_owned(session, org_id=org_id, job_id=job_id)
    if job is None:
        raise NotFound(f"no job {job_id} (or it is not yours)", detail={"job_id": job_id})
    return job


def list_(
    *, session: Session, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Jobs of ``org_id``, newest first."""
    return repository.list_owned(session, org_id=org_id, cursor=cursor, limit=limit)
