"""Keeps the derived caches current so that reads never write.

A shop's profile and its machines' learned loads are derived from stored rows. Reads (GET a
profile or capacity, a match) serve the cached values while they are valid and otherwise derive
them in memory without storing them; this refresher rebuilds what is out of date and stores it:
every ``cache_refresh_seconds`` in a thread of the server (and once at start), or on demand
with ``mitsumori cache refresh`` and after a history import.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from platform_api.capacity import service as capacity_service
from platform_api.db.session import Database
from platform_api.db.types import utcnow
from platform_api.orgs import repository as orgs_repository
from platform_api.profiles import history, reference
from platform_api.profiles import service as profiles_service
from platform_api.shops.model_store import ModelStore

log = logging.getLogger("mitsumori.caches")


@dataclass
class RefreshReport:
    """What one pass rebuilt; ``failed`` lists shops whose refresh raised (logged, retried)."""

    profiles: int = 0
    loads: int = 0
    history_rows: int = 0  # history rows read (again) by the current default model
    failed: list[str] = field(default_factory=list)


def refresh_shop(
    db: Database, shop_id: str, *, models: ModelStore | None, now: datetime | None = None
) -> RefreshReport:
    """Rebuild one shop's profile and machine loads where out of date, and read up to
    ``history.REREAD_BATCH`` history rows of an older default model again (one transaction)."""
    now = now or utcnow()
    report = RefreshReport()
    with db.session() as session:
        org = orgs_repository.get_org_of_kind(session, shop_id, "shop")
        if org is None:
            return report
        version = reference.default_version(models)
        report.history_rows += history.reread(
            session,
            org_id=shop_id,
            ref=reference.Reference(models if version else None, {}),
            version=version,
            limit=history.REREAD_BATCH,
        )
        report.profiles += profiles_service.refresh_profile(
            session, org=org, models=models, now=now
        )
        report.loads += capacity_service.refresh_loads(session, now=now, org_ids=[shop_id])
    return report


def refresh_all(
    db: Database, *, models: ModelStore | None, now: datetime | None = None
) -> RefreshReport:
    """Every shop, each in its own transaction: one shop's bad row does not stop the others."""
    now = now or utcnow()
    with db.session() as session:
        ids = [o.id for o in orgs_repository.shops(session)]
    total = RefreshReport()
    for shop_id in ids:
        try:
            one = refresh_shop(db, shop_id, models=models, now=now)
        except Exception:
            log.exception("refreshing the caches of shop %s failed; retried next pass", shop_id)
            total.failed.append(shop_id)
            continue
        total.profiles += one.profiles
        total.loads += one.loads
        total.history_rows += one.history_rows
    return total


class CacheRefresher:
    """A thread that runs ``refresh_all`` at start and then every ``interval`` seconds."""

    def __init__(self, db: Database, models: ModelStore, *, interval: float) -> None:
        self.db = db
        self.models = models
        self.interval = interval
        self.stopping = threading.Event()
        self.passes = 0  # completed passes (tests wait on it)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mitsumori-caches", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                report = refresh_all(self.db, models=self.models)
                if report.profiles or report.loads:
                    log.info("caches refreshed: %d profiles, %d machine loads",
                             report.profiles, report.loads)  # fmt: skip
            except Exception:  # the database was away, say: log, wait, try again
                log.exception("cache refresh pass failed")
            self.passes += 1
            self.stopping.wait(self.interval)
