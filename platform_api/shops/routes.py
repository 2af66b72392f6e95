"""HTTP routes: /v1/shops/{shop_id}/history, /model/train, /models (the shop's own only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile, status

from platform_api.deps import ContextDep, PrincipalDep, SessionDep
from platform_api.jobs.schemas import JobPublic
from platform_api.pagination import MAX_LIMIT, Page
from platform_api.schemas import AUTH_ERRORS, NOT_FOUND
from platform_api.shops import service
from platform_api.shops.schemas import HistoryRowPublic, ShopModelPublic, TrainRequest

router = APIRouter(prefix="/v1/shops", tags=["shops"], responses=AUTH_ERRORS)
ShopId = Annotated[str, Path(max_length=40, examples=["org_0193b1c2d3e4f5a6b7c8d9e0f1a2"])]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.post("/{shop_id}/history", status_code=status.HTTP_202_ACCEPTED, responses=NOT_FOUND)
def import_history(
    shop_id: ShopId,
    history: Annotated[
        UploadFile,
        File(
            description="CSV: part_file,material,quantity,tolerance,finish,unit_price,"
            "lead_time_days (part_file relative to the zip's root)"
        ),
    ],
    parts: Annotated[UploadFile, File(description="Zip of the part files the CSV names")],
    principal: PrincipalDep,
    session: SessionDep,
    ctx: ContextDep,
) -> JobPublic:
    """Import past quotes: starts a job; poll GET /v1/jobs/{id} for progress and row errors."""
    principal.require("shop", scope="write")
    job = service.start_history_import(
        session=session,
        data_dir=ctx.settings.data_dir,
        max_bytes=ctx.settings.max_upload_bytes,
        max_attempts=ctx.settings.job_max_attempts,
        principal=principal,
        shop_id=shop_id,
        history=history.file,
        parts=parts.file,
    )
    return JobPublic.model_validate(job)


@router.get("/{shop_id}/history", responses=NOT_FOUND)
def list_history(
    shop_id: ShopId,
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[HistoryRowPublic]:
    """The shop's imported history rows, newest first."""
    principal.require("shop", scope="read")
    rows, nxt = service.list_history(
        session=session, principal=principal, shop_id=shop_id, cursor=cursor, limit=limit
    )
    return Page(items=[HistoryRowPublic.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/{shop_id}/model/train", status_code=status.HTTP_202_ACCEPTED, responses=NOT_FOUND)
def train_model(
    shop_id: ShopId,
    principal: PrincipalDep,
    session: SessionDep,
    ctx: ContextDep,
    body: TrainRequest | None = None,
) -> JobPublic:
    """Train the shop's pricing model on its history: starts a job (metrics in its result)."""
    principal.require("shop", scope="write")
    job = service.start_training(
        session=session,
        max_attempts=ctx.settings.job_max_attempts,
        principal=principal,
        shop_id=shop_id,
        body=body or TrainRequest(),
    )
    return JobPublic.model_validate(job)


@router.get("/{shop_id}/models", responses=NOT_FOUND)
def list_models(
    shop_id: ShopId,
    principal: PrincipalDep,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ShopModelPublic]:
    """The shop's trained models with their backtest metrics, newest first."""
    principal.require("shop", scope="read")
    rows, nxt = service.list_models(
        session=session, principal=principal, shop_id=shop_id, cursor=cursor, limit=limit
    )
    return Page(items=[ShopModelPublic.model_validate(r) for r in rows], next_cursor=nxt)
