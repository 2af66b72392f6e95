"""Per-(RFQ, shop) features (``FEATURES``), vectorised over the shops that passed the filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from matching.profiles import FAMILIES, PROCESSES, SIZE_BINS, material_family, size_bin
from matching.ranking.filters import Candidates
from matching.ranking.index import Rfq, ShopIndex

FEATURES = (
    "price_ratio",
    "price_level",
    "lead_slack_days",
    "log_spare_ratio",
    "distance_km",
    "exp_quoted",
    "exp_won",
    "similar_quoted",
    "similar_won",
    "win_rate",
    "on_time_rate",
    "response_rate",
    "history",
    "deliveries",
    "idle_machines",
    "tolerance_margin",
    "envelope_margin",
)
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasts)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class FeatureBlock:
    """Features of the candidates (rows in ``Candidates.idx`` order) and the quantities that
    the answer shows: unit_price JPY/piece, lead_time_days, spare_hours, distance_km."""

    X: np.ndarray
    unit_price: np.ndarray
    lead_time_days: np.ndarray
    spare_hours: np.ndarray
    distance_km: np.ndarray


def rfq_features(rfq: Rfq, index: ShopIndex, cand: Candidates, *, today: date) -> FeatureBlock:
    """The ``FEATURES`` matrix, shape (m, len(FEATURES)), vectorised over the candidates."""
    c = cand.idx
    m = len(c)
    fits = cand.fits
    hours = rfq.machine_hours
    # machine days: first day by which fitting machines have accumulated the job's hours
    cols = np.flatnonzero(fits.any(axis=0))  # only the classes that can make the part
    cum = np.einsum(
        "mkd,mk->md", index.spare_cum[c[:, None], cols[None, :]], fits[:, cols].astype(float)
    )  # (m, H+1)
    reach = cum >= hours
    got = reach.any(axis=1)
    first = np.where(got, reach.argmax(axis=1), index.horizon).astype(float)
    rate = cum[:, -1] / max(index.horizon, 1)
    extra = np.where(got, 0.0, (hours - cum[:, -1]) / np.maximum(rate, 1e-6))
    offset = (index.start - today).days
    lead = index.base_lead[c] + first + np.minimum(extra, 365.0) + offset
    avail = float((rfq.needed_by - today).days)
    base_price = rfq.default_unit_price if rfq.default_unit_price is not None else 1.0
    unit = base_price * index.price_level[c]
    price_ratio = unit / unit.min() if m else unit
    if rfq.location is not None:
        dist = haversine_km(rfq.location[0], rfq.location[1], index.lat[c], index.lon[c])
    else:
        dist = np.zeros(m)
    p = PROCESSES.index(rfq.process)
    f = FAMILIES.index(material_family(rfq.material))
    b = size_bin(rfq.extents_mm)
    lo, hi = max(0, b - 1), min(SIZE_BINS, b + 2)
    part = np.sort(np.asarray(rfq.extents_mm, dtype=float))[::-1]
    env_ratio = (index.class_env[c] / part).min(axis=2)  # (m, K)
    env_margin = np.log(np.where(fits, env_ratio, 1e-9).max(axis=1))
    X = np.empty((m, len(FEATURES)), dtype=np.float64)
    X[:, 0] = price_ratio
    X[:, 1] = index.price_level[c]
    X[:, 2] = avail - lead
    X[:, 3] = np.log1p(cand.spare_hours / hours)
    X[:, 4] = dist
    X[:, 5] = np.log1p(index.exp_quoted[c, p, f])
    X[:, 6] = np.log1p(index.exp_won[c, p, f])
    X[:, 7] = np.log1p(index.sim_quoted[c, p, f, lo:hi].sum(axis=1))
    X[:, 8] = np.log1p(index.sim_won[c, p, f, lo:hi].sum(axis=1))
    X[:, 9] = index.win_rate[c]
    X[:, 10] = index.on_time_rate[c]
    X[:, 11] = index.response_rate[c]
    X[:, 12] = np.log1p(index.n_quoted[c])
    X[:, 13] = np.log1p(index.n_delivered[c])
    X[:, 14] = (index.idle[c] * fits).sum(axis=1)
    X[:, 15] = np.log(rfq.tolerance_mm / index.best_tol[c])
    X[:, 16] = env_margin
    return FeatureBlock(X, unit, lead, cand.spare_hours, dist)
