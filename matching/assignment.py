"""Assign many RFQs across shops under capacity (``POST /v1/match/batch``).

Two exact formulations, both in SciPy (no extra dependency):

- ``assign_slots``: each shop takes at most ``slots[j]`` RFQs. That is a min-cost flow
  source -> RFQ (1) -> shop (slots) -> sink with unit demands; expanding each shop into its
  slots turns it into a rectangular assignment problem that ``linear_sum_assignment`` (the
  Jonker-Volgenant shortest augmenting path, itself a min-cost-flow method) solves exactly.
  Every RFQ also has its own "unassigned" column at ``unassigned_cost``.
- ``assign_hours``: RFQs need different machine hours and shops have spare hours; that is a
  generalised assignment problem (min-cost flow with unsplittable demands), solved exactly
  as a small 0/1 program with HiGHS through ``scipy.optimize.milp``.

Costs come from match scores: ``cost = -score`` (scores are only comparable within an RFQ, so
``assign_rfqs`` standardises them per RFQ first), infeasible pairs are ``inf``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from matching.errors import MatchingError
from matching.ranking.match import MatchResult

_BIG = 1e12


def _check_cost(cost: np.ndarray) -> np.ndarray:
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise MatchingError(f"cost must be a (rfqs, shops) matrix, got shape {c.shape}")
    if np.isnan(c).any() or np.isneginf(c).any():
        raise MatchingError("cost has NaN or -inf entries; use +inf for pairs that cannot match")
    return c


def assign_slots(cost: np.ndarray, slots: Sequence[int], *, unassigned_cost: float) -> np.ndarray:
    """Shop index per RFQ (-1 = unassigned) minimising total cost, each shop <= its slots.

    cost: (n_rfq, n_shop), +inf where a shop cannot take the RFQ. slots: (n_shop,) whole >= 0.
    """
    c = _check_cost(cost)
    n, m = c.shape
    s = np.asarray(slots, dtype=int)
    if s.shape != (m,) or (s < 0).any():
        raise MatchingError(f"slots must be {m} whole numbers >= 0")
    cols = np.repeat(np.arange(m), np.minimum(s, n))
    expanded = np.where(np.isfinite(c[:, cols]), c[:, cols], _BIG)
    dummy = np.full((n, n), _BIG)
    np.fill_diagonal(dummy, unassigned_cost)
    full = np.hstack([expanded, dummy]) if n else np.zeros((0, 0))
    rows, picked = linear_sum_assignment(full)
    out = np.full(n, -1)
    for r, p in zip(rows, picked, strict=True):
        if p < len(cols) and full[r, p] < _BIG:
            out[r] = cols[p]
    return out


def assign_hours(
    cost: np.ndarray,
    hours: Sequence[float],
    capacity: Sequence[float],
    *,
    unassigned_cost: float,
    time_limit_s: float = 10.0,
) -> np.ndarray:
    """Shop index per RFQ (-1 = unassigned) minimising total cost under hour capacities.

    hours: (n_rfq,) machine hours each RFQ needs; capacity: (n_shop,) spare hours per shop.
    """
    c = _check_cost(cost)
    n, m = c.shape
    h = np.asarray(hours, dtype=float)
    cap = np.asarray(capacity, dtype=float)
    if h.shape != (n,) or (h <= 0).any():
        raise MatchingError(f"hours must be {n} positive numbers")
    if cap.shape != (m,) or (cap < 0).any():
        raise MatchingError(f"capacity must be {m} numbers >= 0")
    ok = np.isfinite(c) & (h[:, None] <= cap[None, :] + 1e-9)
    ri, sj = np.nonzero(ok)
    k = len(ri)
    # variables: x for each feasible pair, then one "unassigned" u per RFQ
    obj = np.concatenate([c[ri, sj], np.full(n, unassigned_cost)])
    a_assign = sparse.hstack(
        [sparse.csr_matrix((np.ones(k), (ri, np.arange(k))), shape=(n, k)), sparse.eye(n)]
    )
    a_cap = sparse.hstack(
        [sparse.csr_matrix((h[ri], (sj, np.arange(k))), shape=(m, k)), sparse.csr_matrix((m, n))]
    )
    cons = [LinearConstraint(a_assign, 1, 1), LinearConstraint(a_cap, -np.inf, cap)]
    res = milp(
        obj,
        constraints=cons,
        integrality=np.ones(k + n),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit_s},
    )
    if res.x is None:
        raise MatchingError(f"the assignment solver found no solution: {res.message}")
    out = np.full(n, -1)
    chosen = np.flatnonzero(res.x[:k] > 0.5)
    out[ri[chosen]] = sj[chosen]
    return out


@dataclass(frozen=True)
class Assignment:
    """RFQ id -> shop id (None = not assigned), hours placed per shop, total cost."""

    shop_for: dict[str, str | None]
    hours_by_shop: dict[str, float]
    cost: float

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def assign_rfqs(
    matches: Mapping[str, MatchResult],
    *,
    hours: Mapping[str, float],
    capacity: Mapping[str, float],
    unassigned_cost: float = 3.0,
) -> Assignment:
    """Assign each RFQ to one of its ranked shops, respecting shops' spare hours.

    matches: RFQ id -> ``rank`` result; only the shops listed there are allowed. hours: RFQ id
    -> machine hours. capacity: shop id -> spare hours available for this batch. Scores are
    standardised within each RFQ (z-scores), so ``unassigned_cost`` = 3 means "leave an RFQ
    open rather than give it to a shop scoring 3 standard deviations under its best".
    """
    rfq_ids = list(matches)
    shop_ids = sorted({s.shop_id for r in matches.values() for s in r.shops})
    pos = {s: j for j, s in enumerate(shop_ids)}
    cost = np.full((len(rfq_ids), len(shop_ids)), np.inf)
    for i, rid in enumerate(rfq_ids):
        shops = matches[rid].shops
        if not shops:
            continue
        sc = np.array([s.score for s in shops])
        z = (sc - sc.max()) / (sc.std() if sc.std() > 0 else 1.0)
        for s, zz in zip(shops, z, strict=True):
            cost[i, pos[s.shop_id]] = -zz
    h = [float(hours[r]) for r in rfq_ids]
    cap = [float(capacity.get(s, 0.0)) for s in shop_ids]
    pick = (
        assign_hours(cost, h, cap, unassigned_cost=unassigned_cost)
        if rfq_ids
        else np.empty(0, dtype=np.int64)
    )
    shop_for: dict[str, str | None] = {}
    load: dict[str, float] = {}
    total = 0.0
    for i, rid in enumerate(rfq_ids):
        j = int(pick[i])
        if j < 0:
            shop_for[rid] = None
            total += unassigned_cost
        else:
            shop_for[rid] = shop_ids[j]
            load[shop_ids[j]] = load.get(shop_ids[j], 0.0) + h[i]
            total += float(cost[i, j])
    return Assignment(shop_for, load, total)
