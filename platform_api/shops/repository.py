"""SQL for a shop's history rows and models; every query is scoped to the shop."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, update
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from platform_api.db.models import HistoryRow, Part, ShopModel
from platform_api.pagination import paginate


def count_history(session: Session, *, org_id: str) -> int:
    return int(
        session.exec(
            select(func.count()).select_from(HistoryRow).where(HistoryRow.org_id == org_id)
        ).one()
    )


def list_history(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    stmt = select(HistoryRow).where(HistoryRow.org_id == org_id)
    return paginate(session, stmt, col(HistoryRow.id), cursor=cursor, limit=limit)


def imported_lines(session: Session, *, job_id: str) -> set[int]:
    """Lines of a job already imported (an import resumed after a restart skips them)."""
    return set(session.exec(select(HistoryRow.line).where(HistoryRow.job_id == job_id)).all())


def history_with_files(
    session: Session, *, org_id: str
) -> list[tuple[HistoryRow, str, dict[str, Any]]]:
    """Every history row of the shop with the stored path and stored analysis of its part."""
    rows = session.exec(
        select(HistoryRow, Part.storage_path, Part.analysis)
        .join(Part, col(Part.id) == col(HistoryRow.part_id))
        .where(HistoryRow.org_id == org_id, Part.owner_org_id == org_id)
        .order_by(col(HistoryRow.id))
    ).all()
    # SQLModel's select() types a JSON dict column as Mapping (a constrained TypeVar)
    return [(r, p, cast(dict[str, Any], a)) for r, p, a in rows]


def list_models(
    session: Session, *, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    # The artifact (megabytes) is not needed to list models.
    stmt = (
        select(ShopModel)
        .options(defer(ShopModel.artifact))  # type: ignore[arg-type]  # SQLModel types it as bytes
        .where(col(ShopModel.org_id) == org_id)
    )
    return paginate(session, stmt, col(ShopModel.id), cursor=cursor, limit=limit)


def deactivate_models(session: Session, *, org_id: str) -> None:
    session.exec(
        update(ShopModel)
        .where(col(ShopModel.org_id) == org_id, col(ShopModel.active).is_(True))
        .values(active=False)
    )
