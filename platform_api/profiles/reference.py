"""What a shop's quote records are measured against: the platform's default model.

A record's process, size and tolerance come from the default model's quote of its part and
spec (a history row carries no quote of its own), and its price level is its price over that
quote's. ``Reference`` quotes each record once (cached by record key).
"""

from __future__ import annotations

import logging
from typing import Any

from matching.errors import InvalidQuoteRecord
from matching.profiles import PROCESSES, QuoteRecord
from platform_api.shops.model_store import ModelStore
from quote.contract import Quote
from quote.errors import MitsumoriError, QuoteContractError

log = logging.getLogger("mitsumori.profiles")


def shape(quote: Quote) -> tuple[str, tuple[float, float, float], float]:
    """(process, bounding box mm, tolerance +- mm) of a quote: its first body's process and box.

    Raises ``QuoteContractError`` for a process the profiles do not know.
    """
    first = quote.items[0]
    if first.physics.process not in PROCESSES:
        raise QuoteContractError(
            f"quote of process {first.physics.process!r}: profiles know {', '.join(PROCESSES)}",
            detail={"field": "items[0].physics.process", "value": first.physics.process},
        )
    bbox = first.features.bbox_mm
    ext = (max(float(bbox[0]), 1e-3), max(float(bbox[1]), 1e-3), max(float(bbox[2]), 1e-3))
    return first.physics.process, ext, float(quote.tolerance.mm)


class Reference:
    """Quotes a part with the default model once per record (cached by record key)."""

    def __init__(self, models: ModelStore | None, cached: dict[str, Any]) -> None:
        self.models = models
        self.cached = dict(cached)
        self.model: Any = None
        self.failed = models is None

    def quote(
        self, key: str, analysis: dict[str, Any], spec: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The default quote of a part (its stored analysis) for ``spec``, once per ``key``."""
        if key in self.cached:
            return self.cached[key]
        if self.failed:
            return None
        from quote.analysis import analysis_from_dict
        from quote.engine import QuoteRequest, quote_analysis

        try:
            if self.model is None:
                assert self.models is not None
                self.model = self.models.default()
            result = quote_analysis(
                analysis_from_dict(analysis),
                QuoteRequest(
                    material=spec["material"],
                    quantity=int(spec["quantity"]),
                    tolerance=spec.get("tolerance"),
                    finish=spec.get("finish"),
                    quantities=(int(spec["quantity"]),),
                ),
                model=self.model,
            )
        except MitsumoriError as exc:
            if exc.http_status == 503:  # no default model: no price level until there is one
                self.failed = True
                return None
            self.cached[key] = {"error": exc.code}
            return self.cached[key]
        process, ext, tol = shape(result)
        ref = {"price": result.unit_price, "process": process, "ext": ext, "tol": tol}
        self.cached[key] = ref
        return ref


def make_record(*args: Any) -> QuoteRecord | None:
    try:
        return QuoteRecord(*args)
    except InvalidQuoteRecord as exc:  # a stored row the profile cannot use: skip, say why
        log.warning("profile skips a record: %s", exc.message)
        return None


def default_version(models: ModelStore | None) -> str:
    """Version of the default model the reference prices come from ("" if none loads)."""
    if models is None:
        return ""
    try:
        return str(getattr(models.default(), "version", ""))
    except MitsumoriError:
        return ""
