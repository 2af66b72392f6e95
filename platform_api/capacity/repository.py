"""SQL for a shop's settings (calendar, materials) and the cached learned load of machines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from platform_api.db.models import MachineStatus, ShopSettings


def get_settings(session: Session, *, org_id: str) -> ShopSettings | None:
    return session.get(ShopSettings, org_id)


def settings_of(session: Session, org_ids: list[str]) -> dict[str, ShopSettings]:
    from sqlmodel import select

    if not org_ids:
        return {}
    rows = session.exec(select(ShopSettings).where(col(ShopSettings.org_id).in_(org_ids)))
    return {r.org_id: r for r in rows}


def get_or_new_settings(session: Session, *, org_id: str) -> ShopSettings:
    row = session.get(ShopSettings, org_id)
    return row if row is not None else ShopSettings(org_id=org_id)


def save_load(
    session: Session, *, machine_id: str, load: dict[str, Any], computed_at: datetime
) -> None:
    """Cache a machine's learned load (only these columns: ingest owns the others)."""
    session.exec(
        update(MachineStatus)
        .where(col(MachineStatus.machine_id) == machine_id)
        .values(load=load, load_computed_at=computed_at)
    )
