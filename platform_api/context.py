"""What the lifespan builds and every request reads: ``AppContext``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from platform_api.analyzer import Analyzer
from platform_api.db.session import Database
from platform_api.metrics import Metrics
from platform_api.settings import Settings
from platform_api.shops.model_store import ModelStore

if TYPE_CHECKING:
    from platform_api.jobs.worker import JobWorker


@dataclass
class AppContext:
    """Process-wide handles; none of them holds business state (that lives in the database)."""

    settings: Settings
    db: Database
    analyzer: Analyzer
    models: ModelStore
    metrics: Metrics
    workers: list[JobWorker] = field(default_factory=list)
