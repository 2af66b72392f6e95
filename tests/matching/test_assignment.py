"""Batch assignment under capacity: exact on small cases (checked by brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from matching.assignment import assign_hours, assign_rfqs, assign_slots
from matching.errors import MatchingError
from matching.ranker_training import train_default_ranker
from matching.ranking.match import rank
from matching.simulate import make_rfq, simulate_market


def _brute(cost: np.ndarray, hours: np.ndarray, cap: np.ndarray, unassigned: float) -> float:
    n, m = cost.shape
    best = np.inf
    for pick in itertools.product(range(-1, m), repeat=n):
        load = np.zeros(m)
        total = 0.0
        for i, j in enumerate(pick):
            if j < 0:
                total += unassigned
                continue
            if not np.isfinite(cost[i, j]):
                break
            load[j] += hours[i]
            total += cost[i, j]
        else:
            if (load <= cap + 1e-9).all():
                best = min(best, total)
    return best


def _total(pick: np.ndarray, cost: np.ndarray, unassigned: float) -> float:
    return float(sum(cost[i, j] if j >= 0 else unassigned for i, j in enumerate(pick)))


@pytest.mark.parametrize("seed", range(6))
def test_hours_assignment_is_optimal_and_respects_capacity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 6, 3
    cost = rng.uniform(-3, 0, size=(n, m))
    cost[rng.random((n, m)) < 0.2] = np.inf
    hours = rng.uniform(1, 8, size=n).round(1)
    cap = rng.uniform(4, 14, size=m).round(1)
    pick = assign_hours(cost, hours, cap, unassigned_cost=0.5)
    for j in range(m):
        assert hours[pick == j].sum() <= cap[j] + 1e-9
    assert all(np.isfinite(cost[i, j]) for i, j in enumerate(pick) if j >= 0)
    assert _total(pick, cost, 0.5) == pytest.approx(_brute(cost, hours, cap, 0.5))


def test_slots_assignment_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    cost = rng.uniform(-5, 0, size=(6, 3))
    cost[0, 1] = np.inf
    slots = [1, 2, 1]
    pick = assign_slots(cost, slots, unassigned_cost=-0.5)
    assert all((pick == j).sum() <= s for j, s in enumerate(slots))
    ones = np.ones(6)
    assert _total(pick, cost, -0.5) == pytest.approx(
        _brute(cost, ones, np.array(slots, float), -0.5)
    )


def test_bad_inputs() -> None:
    with pytest.raises(MatchingError, match="NaN"):
        assign_hours(np.array([[np.nan]]), [1.0], [1.0], unassigned_cost=0)
    with pytest.raises(MatchingError, match="hours"):
        assign_hours(np.zeros((1, 1)), [0.0], [1.0], unassigned_cost=0)
    with pytest.raises(MatchingError, match="slots"):
        assign_slots(np.zeros((1, 2)), [1], unassigned_cost=0)


def test_batch_of_ranked_rfqs_under_shop_capacity() -> None:
    market = simulate_market(n_shops=25, days=10, rfqs_per_day=10, seed=4)
    ranker = train_default_ranker(4, market=market)
    index = market.final_index
    assert index is not None
    rng = np.random.default_rng(9)
    rfqs = [make_rfq(rng, f"b{i}", index.start) for i in range(30)]
    matches = {r.rfq_id: rank(r, index, ranker, today=index.start, k=5) for r in rfqs}
    hours = {r.rfq_id: r.machine_hours for r in rfqs}
    shops = {s.shop_id for m in matches.values() for s in m.shops}
    capacity = {s: 6.0 for s in shops}  # a tight batch: 6 spare hours per shop
    out = assign_rfqs(matches, hours=hours, capacity=capacity)
    for shop, load in out.hours_by_shop.items():
        assert load <= capacity[shop] + 1e-9
    for rid, shop in out.shop_for.items():
        if shop is not None:
            assert shop in {s.shop_id for s in matches[rid].shops}
    placed = [r for r, s in out.shop_for.items() if s is not None]
    assert placed and len(placed) < len(rfqs)  # some fit, the tight capacity leaves some open
    # with room everywhere, every RFQ with a candidate gets its best-ranked shop
    roomy = assign_rfqs(matches, hours=hours, capacity={s: 1e6 for s in shops})
    for rid, m in matches.items():
        assert roomy.shop_for[rid] == (m.shops[0].shop_id if m.shops else None)
