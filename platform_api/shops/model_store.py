"""Pricing models for quoting: the default one and each shop's active one, from the database.

The database is the only source of truth (any number of API processes share it). A model row
never changes once written, so deserialised models are cached by row id; which row is active is
read on every quote, so activating a new version takes effect on every process at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlmodel import Session, col, select

from platform_api.db.models import ShopModel
from platform_api.errors import ServiceUnavailable
from quote.errors import ModelIncompatible, ModelNotFound


class ModelStore:
    """Loads and caches ``quote.artifact.QuoteModel`` objects."""

    def __init__(self, *, max_cached: int = 16) -> None:
        self.max_cached = max_cached
        self._default: Any = None
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def default(self) -> Any:
        """The default model (trained by ``make run``), loaded once per process."""
        with self._lock:
            if self._default is None:
                from quote.persistence import load_default_model

                try:
                    self._default = load_default_model()
                except (ModelNotFound, ModelIncompatible) as exc:
                    # A server-side problem, not the caller's: 503 until someone rebuilds it.
                    raise ServiceUnavailable(
                        "the default pricing model is missing or out of date: run `make run` "
                        "or `mitsumori model build-default`",
                        detail={"reason": exc.code},
                    ) from exc
            return self._default

    def active_row_id(self, session: Session, shop_org_id: str) -> str | None:
        return session.exec(
            select(ShopModel.id)
            .where(ShopModel.org_id == shop_org_id, col(ShopModel.active).is_(True))
            .order_by(col(ShopModel.id).desc())
            .limit(1)
        ).first()

    def for_shop(self, session: Session, shop_org_id: str | None) -> tuple[Any, str | None]:
        """The model that prices for ``shop_org_id`` and its row id (None: the default model)."""
        if shop_org_id is None:
            return self.default(), None
        row_id = self.active_row_id(session, shop_org_id)
        if row_id is None:
            return self.default(), None
        with self._lock:
            if row_id in self._cache:
                self._cache.move_to_end(row_id)
                return self._cache[row_id], row_id
        from quote.persistence import model_from_bytes

        artifact = session.exec(select(ShopModel.artifact).where(ShopModel.id == row_id)).one()
        model = model_from_bytes(artifact)
        with self._lock:
            self._cache[row_id] = model
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        return model, row_id
