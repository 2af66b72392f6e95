"""HTTP routes: /v1/jobs (a shop's import and training jobs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from platform_api.deps import PrincipalDep, SessionDep
from platform_api.jobs import service
from platform_api.jobs.schemas import JobPublic
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=AUTH_ERRORS)


@router.get("")
def list_jobs(
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[JobPublic]:
    """The calling shop's jobs, newest first."""
    principal.require("shop", scope="read")
    rows, nxt = service.list_(session=session, org_id=principal.org_id, cursor=cursor, limit=limit)
    return Page(items=[JobPublic.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/{job_id}", responses=NOT_FOUND)
def get_job(
    job_id: Annotated[str, Path(max_length=40, examples=["job_0193b1c2d3e4f5a6b7c8d9e0f1a2"])],
    principal: PrincipalDep,
    session: SessionDep,
) -> JobPublic:
    """Status, progress, errors by CSV line, and the result (a trained model's metrics)."""
    principal.require("shop", scope="read")
    return JobPublic.model_validate(
        service.get(session=session, org_id=principal.org_id, job_id=job_id)
    )
