"""One match: filters, features, one predict, exposure penalty, top ``k`` with reasons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from matching.errors import InvalidRfq, RankerNotFitted
from matching.ranking.estimator import LambdaRanker
from matching.ranking.exposure import ExposureBudget
from matching.ranking.features import FEATURES, rfq_features
from matching.ranking.filters import hard_filter
from matching.ranking.index import Rfq, ShopIndex
from matching.ranking.reasons import reasons_for


@dataclass(frozen=True)
class RankedShop:
    """One shop in a match answer. score: ranker score after the exposure penalty (only the
    order means something). unit_price: JPY/piece from the shop's price level over the default
    model. lead_time_days: calendar days from today. spare_hours: on fitting machines before
    needed_by. distance_km: to the buyer (0 when no location was given)."""

    shop_id: str
    score: float
    unit_price: float | None
    lead_time_days: float
    spare_hours: float
    distance_km: float
    reasons: tuple[str, ...]
    features: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MatchResult:
    """Ranked shops for one RFQ; candidates = shops that passed every filter; filtered = how
    many each filter removed."""

    rfq_id: str
    shops: tuple[RankedShop, ...]
    candidates: int
    filtered: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rfq_id": self.rfq_id,
            "shops": [s.to_dict() for s in self.shops],
            "candidates": self.candidates,
            "filtered": dict(self.filtered),
        }


def rank(
    rfq: Rfq,
    index: ShopIndex,
    ranker: LambdaRanker,
    *,
    today: date,
    k: int = 10,
    exposure: ExposureBudget | None = None,
    exclude: Iterable[str] = (),
    record_exposure: bool = True,
) -> MatchResult:
    """Rank the shops for ``rfq``: filters, features, one predict, exposure, top ``k``.

    today: the date the buyer asks on (lead times count from it). exclude: shop ids never to
    return (the asking shop in work sharing). exposure: the budget to apply and, unless
    ``record_exposure`` is False, to charge with this answer.
    """
    if rfq.needed_by <= today:
        raise InvalidRfq(f"needed_by {rfq.needed_by} must be after today ({today})")
    if not hasattr(ranker, "booster_"):
        raise RankerNotFitted("the ranker is not trained: run train_default_ranker() first")
    cand = hard_filter(rfq, index, exclude=exclude)
    if len(cand.idx) == 0:
        return MatchResult(rfq.rfq_id, (), 0, cand.filtered)
    fb = rfq_features(rfq, index, cand, today=today)
    scores = ranker.predict(fb.X)
    if exposure is not None:
        scores = scores - exposure.penalty(cand.idx)
    kk = min(k, len(scores))
    top = np.argpartition(-scores, kk - 1)[:kk]
    top = top[np.lexsort((cand.idx[top], -scores[top]))]
    if exposure is not None and record_exposure:
        exposure.record(cand.idx[top])
    shops = []
    for r in top:
        shops.append(
            RankedShop(
                shop_id=str(index.shop_ids[cand.idx[r]]),
                score=float(scores[r]),
                unit_price=None if rfq.default_unit_price is None else float(fb.unit_price[r]),
                lead_time_days=float(fb.lead_time_days[r]),
                spare_hours=float(fb.spare_hours[r]),
                distance_km=float(fb.distance_km[r]),
                reasons=reasons_for(rfq, index, cand, fb, int(r), today=today),
                features=dict(zip(FEATURES, map(float, fb.X[r]), strict=True)),
            )
        )
    return MatchResult(rfq.rfq_id, tuple(shops), len(cand.idx), cand.filtered)


def partners_for(
    rfq: Rfq,
    from_shop: str,
    index: ShopIndex,
    ranker: LambdaRanker,
    *,
    today: date,
    k: int = 5,
    exposure: ExposureBudget | None = None,
) -> MatchResult:
    """Work sharing: shops ``from_shop`` could pass ``rfq`` to, ranked like a buyer's match."""
    index.position(from_shop)  # unknown shop -> InvalidRfq
    return rank(rfq, index, ranker, today=today, k=k, exposure=exposure, exclude=(from_shop,))
