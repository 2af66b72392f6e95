"""Ranking: hard filters never let an unfit shop through, cold start, reasons, exposure budget,
work sharing, and the ranker's estimator contract."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from matching.capacity import ShopCapacity
from matching.errors import InvalidRfq, InvalidTrainingData, RankerNotFitted
from matching.profiles import FAMILIES, DeclaredMachine, QuoteRecord, build_profile, material_family
from matching.ranker_training import train_default_ranker
from matching.ranking.estimator import LambdaRanker, ndcg_at_k
from matching.ranking.exposure import ExposureBudget
from matching.ranking.features import FEATURES, haversine_km
from matching.ranking.index import CLASS_CAPABILITIES, Rfq, ShopIndex, ShopInput
from matching.ranking.match import partners_for, rank
from matching.simulate import Market, make_rfq, simulate_market

TODAY = date(2025, 3, 3)
TOKYO = (35.681, 139.767)
OSAKA = (34.702, 135.495)


@pytest.fixture(scope="module")
def market() -> Market:
    return simulate_market(n_shops=40, days=30, rfqs_per_day=20, seed=1)


@pytest.fixture(scope="module")
def ranker(market: Market) -> LambdaRanker:
    return train_default_ranker(1, market=market)


def _five_axis(mid: str, env: tuple = (650, 650, 500), tol: float = 0.01) -> DeclaredMachine:
    return DeclaredMachine(mid, "5-axis", env, tol)


def _history(shop: str, n: int, won: int) -> list[QuoteRecord]:
    from datetime import UTC, datetime

    t = datetime(2025, 1, 6, tzinfo=UTC)
    return [
        QuoteRecord(
            f"{shop}-{i}", shop, "A5052", "mill", (120, 80, 30), 0.02, "none", 10,
            1000.0, 1000.0, t, t + timedelta(hours=3), "won" if i < won else "lost",
        )
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def small_index() -> ShopIndex:
    full = ShopCapacity(
        "F", TODAY, {"5-axis": np.zeros(30)}, {"5-axis": np.full(30, 8.0)}, {"5-axis": 0}
    )
    shops = [
        ShopInput("A", TOKYO, (_five_axis("a1"), _five_axis("a2")), ("ISO9001",), ("aluminium",),
                  build_profile("A", _history("A", 40, 9))),
        ShopInput("B", TOKYO, (DeclaredMachine("b1", "3-axis", (800, 500, 500), 0.02),), (),
                  ("aluminium",)),
        ShopInput("C", TOKYO, (_five_axis("c1", (200, 200, 150), 0.005),), ("ISO9001",),
                  ("aluminium",)),
        ShopInput("D", TOKYO, (DeclaredMachine("d1", "lathe", (600, 350, 350), 0.01),),
                  ("ISO9001",), ("aluminium",)),
        ShopInput("E", TOKYO, (_five_axis("e1"),), ("ISO9001",), ("steel",)),
        ShopInput("F", TOKYO, (_five_axis("f1"),), ("ISO9001",), ("aluminium",), capacity=full),
        ShopInput("G", OSAKA, (_five_axis("g1"),), ("ISO9001",), ("A6061",)),
        ShopInput("H", TOKYO, (_five_axis("h1", tol=0.05),), ("ISO9001",), ("aluminium",)),
        ShopInput("I", TOKYO, (_five_axis("i1"),), (), ("aluminium",)),
    ]  # fmt: skip
    return ShopIndex.build(shops, start=TODAY, horizon_days=30)


RFQ = Rfq(
    rfq_id="r1",
    material="A5052",
    extents_mm=(100.0, 300.0, 200.0),
    needed_by=TODAY + timedelta(days=20),
    machine_hours=10.0,
    process="mill",
    min_axes=5,
    tolerance_mm=0.02,
    certifications=("ISO9001",),
    location=TOKYO,
    default_unit_price=12000.0,
)


def test_hard_filters_on_a_hand_built_index(small_index: ShopIndex, ranker: LambdaRanker) -> None:
    res = rank(RFQ, small_index, ranker, today=TODAY)
    assert sorted(s.shop_id for s in res.shops) == ["A", "G"]
    assert res.filtered == {
        "process": 2,  # B has only a 3-axis, D only a lathe
        "envelope": 1,  # C's 200 mm table cannot take a 300 mm part
        "material": 1,  # E cuts steel only
        "tolerance": 1,  # H holds +-0.05, the part needs +-0.02
        "certification": 1,  # I has no ISO 9001
        "capacity": 1,  # F is booked solid until needed_by
    }
    a = next(s for s in res.shops if s.shop_id == "A")
    g = next(s for s in res.shops if s.shop_id == "G")
    assert "quoted 40 similar aluminium parts, won 9" in a.reasons
    assert "new on Mitsumori: matched on its declared machines" in g.reasons
    assert any(r.endswith("km away") for r in g.reasons)
    assert g.distance_km == pytest.approx(float(haversine_km(*TOKYO, *OSAKA)), rel=1e-9)
    assert 380 < g.distance_km < 420  # Tokyo to Osaka, about 400 km
    assert a.unit_price == pytest.approx(12000.0)  # price level 1.0 in its history
    assert set(a.features) == set(FEATURES)


def test_no_unfit_shop_ever_appears(market: Market, ranker: LambdaRanker) -> None:
    """Random RFQs against the simulated market; fitness re-checked from the shops' inputs."""
    index = market.final_index
    assert index is not None
    inputs = {s.shop_id: s for s in market.final_inputs}
    rng = np.random.default_rng(5)
    today = index.start
    seen = 0
    for i in range(150):
        rfq = make_rfq(rng, f"t{i}", today)
        if rng.random() < 0.3:
            rfq = Rfq(**{**rfq.__dict__, "certifications": ("JISQ9100",)})
        for s in rank(rfq, index, ranker, today=today, k=20).shops:
            seen += 1
            shop = inputs[s.shop_id]
            assert set(rfq.certifications) <= set(shop.certifications)
            fam = material_family(rfq.material)
            cut = {m if m in FAMILIES else material_family(m) for m in shop.materials}
            assert fam in cut | set(shop.profile.families if shop.profile else ())
            part = sorted(rfq.extents_mm, reverse=True)
            fitting = [
                m
                for m in shop.machines
                if CLASS_CAPABILITIES[m.machine_class].get(rfq.process, 0) >= rfq.min_axes
                and all(e >= p for e, p in zip(sorted(m.envelope_mm, reverse=True), part))  # noqa: B905
            ]
            assert fitting, f"{s.shop_id} has no machine that fits {rfq}"
            assert min(m.tolerance_mm for m in shop.machines) <= rfq.tolerance_mm
            assert s.spare_hours >= rfq.machine_hours
    assert seen > 300


def test_exposure_budget_spreads_first_places(market: Market, ranker: LambdaRanker) -> None:
    index = market.final_index
    assert index is not None
    rng = np.random.default_rng(11)
    rfqs = [make_rfq(rng, f"x{i}", index.start) for i in range(300)]
    rfqs = [r for r in rfqs if r.process == "mill" and r.min_axes == 3 and not r.certifications]

    def firsts(budget: ExposureBudget | None) -> Counter:
        c: Counter = Counter()
        for r in rfqs:
            res = rank(r, index, ranker, today=index.start, k=5, exposure=budget)
            if res.shops:
                c[res.shops[0].shop_id] += 1
        return c

    plain = firsts(None)
    fair = firsts(ExposureBudget(index.n, strength=2.0, half_life=50))
    assert sum(plain.values()) == sum(fair.values()) > 100
    top_share_plain = plain.most_common(1)[0][1] / sum(plain.values())
    top_share_fair = fair.most_common(1)[0][1] / sum(fair.values())
    assert top_share_fair < 0.75 * top_share_plain
    assert len(fair) > len(plain)


def test_partners_for_excludes_the_asking_shop(market: Market, ranker: LambdaRanker) -> None:
    index = market.final_index
    assert index is not None
    rng = np.random.default_rng(2)
    for i in range(50):
        rfq = make_rfq(rng, f"p{i}", index.start)
        res = rank(rfq, index, ranker, today=index.start, k=5)
        if len(res.shops) >= 3:
            break
    top = res.shops[0].shop_id
    shared = partners_for(rfq, top, index, ranker, today=index.start, k=5)
    assert top not in [s.shop_id for s in shared.shops]
    # partners are the other candidates, ranked the same way (price ratios are relative to the
    # cheapest remaining candidate, so the order among them may move)
    everyone = rank(rfq, index, ranker, today=index.start, k=index.n)
    assert {s.shop_id for s in shared.shops} <= {s.shop_id for s in everyone.shops} - {top}
    assert len(shared.shops) == min(5, everyone.candidates - 1)
    assert shared.candidates == everyone.candidates - 1
    with pytest.raises(InvalidRfq, match="unknown shop"):
        partners_for(rfq, "nobody", index, ranker, today=index.start)


def test_invalid_requests(small_index: ShopIndex, ranker: LambdaRanker) -> None:
    with pytest.raises(InvalidRfq, match="needed_by"):
        rank(RFQ, small_index, ranker, today=RFQ.needed_by)
    with pytest.raises(InvalidRfq, match="process"):
        Rfq("x", "A5052", (1, 1, 1), TODAY, 1.0, process="laser")
    with pytest.raises(InvalidRfq, match="no machine class"):
        Rfq("x", "A5052", (1, 1, 1), TODAY, 1.0, process="lathe", min_axes=5)
    for bad in (
        {"quantity": "10"},
        {"tolerance_mm": float("nan")},
        {"extents_mm": (1, 2)},
        {"location": (95.0, 0.0)},
        {"needed_by": "2025-04-01"},
        {"machine_hours": True},
    ):
        with pytest.raises(InvalidRfq):
            Rfq(**{**RFQ.__dict__, **bad})
    with pytest.raises(RankerNotFitted):
        rank(RFQ, small_index, LambdaRanker(), today=TODAY)


def test_ranker_fit_predict_contract_with_groups() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = np.clip(np.round(X[:, 0] + 1.5), 0, 3).astype(int)  # relevance follows feature 0
    sizes = np.full(40, 10)
    r = LambdaRanker(n_estimators=30).fit(X, y, group=sizes)
    assert r.n_features_in_ == 4
    assert r.score(X, y, group=sizes) > 0.9
    qid = np.repeat(np.arange(40), 10)
    r2 = LambdaRanker(n_estimators=30).fit(X, y, qid=qid)
    np.testing.assert_allclose(r.predict(X), r2.predict(X))  # deterministic, same groups
    with pytest.raises(InvalidTrainingData, match="whole relevance grades"):
        LambdaRanker().fit(X, y - 1, group=sizes)
    with pytest.raises(InvalidTrainingData, match="adding up"):
        LambdaRanker().fit(X, y, group=[10, 10])
    with pytest.raises(InvalidTrainingData, match="contiguous"):
        LambdaRanker().fit(X, y, qid=np.tile(np.arange(40), 10))
    with pytest.raises(InvalidTrainingData, match="objective"):
        LambdaRanker(objective="regression").fit(X, y, group=sizes)
    xendcg = LambdaRanker(objective="rank_xendcg", n_estimators=30).fit(X, y, group=sizes)
    assert xendcg.score(X, y, group=sizes) > 0.9


def test_ndcg_by_hand() -> None:
    labels = np.array([0.0, 3.0, 1.0])
    # ideal order 3, 1, 0: DCG = 7/1 + 1/log2(3); the order 0, 3, 1 gives 7/log2(3) + 1/2
    ideal = 7 + 1 / np.log2(3)
    got = 7 / np.log2(3) + 1 / 2
    assert ndcg_at_k(labels, np.array([3.0, 2.0, 1.0]), k=5) == pytest.approx(got / ideal)
    assert ndcg_at_k(labels, np.array([0.0, 5.0, 1.0]), k=5) == pytest.approx(1.0)


def test_default_ranker_is_trained_with_metadata(ranker: LambdaRanker) -> None:
    assert ranker.version_.startswith("sim-seed1-")
    assert len(ranker.training_hash_) == 16
    assert ranker.metrics_["ndcg5_test"] > 0.55  # random order scores about 0.49 here


# scikit-learn's contract checks run with the plain fit(X, y) call: without group/qid the
# ranker treats all rows as one query, which every check can use (labels there are small
# whole numbers); every check passes, none is expected to fail.
@parametrize_with_checks([LambdaRanker(n_estimators=5, min_child_samples=2)])
def test_sklearn_estimator_checks(estimator: LambdaRanker, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def test_save_and_load_ranker(ranker: LambdaRanker, tmp_path: object) -> None:
    from pathlib import Path

    from matching.ranking.estimator import load_ranker, save_ranker
    from quote.errors import ModelIncompatible, ModelNotFound

    path = Path(str(tmp_path)) / "ranker.joblib"
    save_ranker(ranker, path)
    back = load_ranker(path)
    X = np.random.default_rng(0).normal(size=(20, len(FEATURES)))
    np.testing.assert_array_equal(back.predict(X), ranker.predict(X))
    assert back.version_ == ranker.version_
    with pytest.raises(ModelNotFound):
        load_ranker(path.with_name("missing.joblib"))
    path.write_bytes(b"not a ranker")
    with pytest.raises(ModelIncompatible):
        load_ranker(path)


def test_ranker_pickled_under_the_old_module_path_loads(ranker: LambdaRanker, tmp_path) -> None:
    """Rankers saved before the split name ``matching.ranking.LambdaRanker``: still loadable."""
    import joblib

    import matching.ranking
    from matching.ranking.estimator import RANKER_FORMAT, load_ranker

    path = tmp_path / "old.joblib"
    old = LambdaRanker.__module__
    LambdaRanker.__module__ = "matching.ranking"  # what the class was called before the split
    try:
        joblib.dump({"format": RANKER_FORMAT, "features": FEATURES, "ranker": ranker}, path)
    finally:
        LambdaRanker.__module__ = old
    blob = path.read_bytes()
    assert b"matching.ranking" in blob and b"matching.ranking.estimator" not in blob
    assert matching.ranking.LambdaRanker is LambdaRanker
    X = np.random.default_rng(1).normal(size=(10, len(FEATURES)))
    np.testing.assert_array_equal(load_ranker(path).predict(X), ranker.predict(X))


def test_ranker_whose_class_is_gone_is_refused_with_rebuild_advice(
    ranker: LambdaRanker, tmp_path
) -> None:
    import sys
    import types

    import joblib

    from matching.ranking.estimator import RANKER_FORMAT, load_ranker
    from quote.errors import ModelIncompatible

    class Gone:  # a class from a module that no longer exists
        pass

    gone = types.ModuleType("matching.ranking.gone")
    Gone.__module__, Gone.__qualname__ = gone.__name__, "Gone"
    gone.Gone = Gone  # type: ignore[attr-defined]  # a throwaway module for pickling only
    sys.modules[gone.__name__] = gone
    try:
        path = tmp_path / "gone.joblib"
        joblib.dump({"format": RANKER_FORMAT, "features": FEATURES, "ranker": Gone()}, path)
    finally:
        del sys.modules[gone.__name__]
    with pytest.raises(ModelIncompatible, match="mitsumori ranker build"):
        load_ranker(path)
