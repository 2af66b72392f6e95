"""What the lifespan builds and every request reads: ``AppContext``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platform_api.analyzer import Analyzer
from platform_api.db.session import Database
from platform_api.metrics import Metrics
from platform_api.settings import Settings
from platform_api.shops.model_store import ModelStore

if TYPE_CHECKING:
    from platform_api.matches.ranker import RankerStore


@dataclass
class AppContext:
    """Process-wide handles; none of them holds business state (that lives in the database)."""

    settings: Settings
    db: Database
    analyzer: Analyzer
    models: ModelStore
    metrics: Metrics
    workers: list[Any] = field(default_factory=list)  # threads with stop(): jobs, MQTT, demo
    ranker: RankerStore | None = None
