"""The marketplace simulator: seeded, consistent outcomes, a quick default ranker that learns."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from matching.capacity import state_timeline
from matching.events import BUSY_STATES
from matching.ranker_training import train_default_ranker
from matching.ranking.estimator import ndcg_at_k
from matching.simulate import simulate_market
from matching.simulate_machines import simulate_machine_events


def test_same_seed_same_market_and_consistent_labels() -> None:
    a = simulate_market(n_shops=20, days=8, rfqs_per_day=10, seed=3)
    b = simulate_market(n_shops=20, days=8, rfqs_per_day=10, seed=3)
    c = simulate_market(n_shops=20, days=8, rfqs_per_day=10, seed=4)
    assert [g.labels.tolist() for g in a.logs] == [g.labels.tolist() for g in b.logs]
    assert a.quotes == b.quotes
    assert [g.labels.tolist() for g in a.logs] != [g.labels.tolist() for g in c.logs]
    by_id = {q.quote_id: q for q in a.quotes}
    for g in a.logs:
        assert (g.labels >= 2).sum() <= 1  # one award per RFQ at most
        for pos, label in zip(g.shown, g.labels, strict=True):
            rec = by_id[f"{g.rfq.rfq_id}:{a.shops[pos].shop_id}"]
            assert (rec.status == "no_bid") == (label == 0)
            assert (rec.status == "won") == (label >= 2)
    X, y, sizes = a.arrays()
    assert X.shape == (len(y), 17) and sizes.sum() == len(y)


@pytest.mark.slow
def test_default_ranker_trains_fast_and_beats_simple_orders() -> None:
    t0 = time.perf_counter()
    market = simulate_market(seed=0)
    ranker = train_default_ranker(0, market=market)
    assert time.perf_counter() - t0 < 30.0
    _, test = market.split()
    rng = np.random.default_rng(0)

    def ndcg(order: object) -> float:
        return float(np.mean([ndcg_at_k(g.labels.astype(float), order(g)) for g in test]))

    learned = ndcg(lambda g: ranker.predict(g.X))
    assert learned == pytest.approx(ranker.metrics_["ndcg5_test"])
    assert learned > ndcg(lambda g: rng.random(len(g.labels))) + 0.1
    assert learned > ndcg(lambda g: -g.unit_price)
    assert learned > ndcg(lambda g: -g.distance_km)


def test_machine_events_follow_the_utilisation() -> None:
    start = datetime(2025, 3, 2, 15, tzinfo=UTC)  # Monday 00:00 in Tokyo
    events = simulate_machine_events(
        shop="s", machine="m", start=start, days=14, utilisation=0.6, seed=1
    )
    spans = state_timeline(events)
    hours = Counter()
    for s in spans:
        hours[s.state] += s.hours
    observed = sum(h for st, h in hours.items() if st != "offline")
    busy = sum(h for st, h in hours.items() if st in BUSY_STATES)
    assert observed == pytest.approx(10 * 9.0, abs=0.01)  # ten weekdays of 08-17
    assert 0.45 < busy / observed < 0.75
