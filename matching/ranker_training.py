"""Training the default supplier ranker (LightGBM LambdaRank) on the seeded market simulator.

``mitsumori ranker build`` (run by ``make run``) saves it for the platform; the benchmarks
(``bench/ranking.py``) train variants of ``DEFAULT_RANKER_PARAMS`` on several market seeds.
"""

from __future__ import annotations

from matching.ranking.estimator import LambdaRanker, mean_ndcg, training_hash
from matching.simulate import Market, simulate_market

DEFAULT_RANKER_PARAMS = {
    "objective": "lambdarank",
    "n_estimators": 60,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 40,
}


def train_default_ranker(
    random_state: int = 0, *, market: Market | None = None, **params: object
) -> LambdaRanker:
    """Train the default ranker on a simulated market (seeded), a few seconds on 2 cores.

    The ranker carries ``training_hash_``, ``metrics_`` (NDCG@5 on the training and held-out
    RFQs, time split 75/25) and ``version_``.
    """
    mk = market if market is not None else simulate_market(seed=random_state)
    train, test = mk.split()
    X, y, sizes = mk.arrays(train)
    kw = {**DEFAULT_RANKER_PARAMS, **params}
    ranker = LambdaRanker(random_state=random_state, **kw)  # type: ignore[arg-type]  # mixed params
    ranker.fit(X, y, group=sizes)
    Xt, yt, st = mk.arrays(test)
    ranker.training_hash_ = training_hash(X, y, sizes)
    ranker.metrics_ = {
        "ndcg5_train": mean_ndcg(y.astype(float), ranker.predict(X), sizes),
        "ndcg5_test": mean_ndcg(yt.astype(float), ranker.predict(Xt), st),
        "train_rfqs": float(len(sizes)),
        "test_rfqs": float(len(st)),
    }
    ranker.version_ = f"sim-seed{mk.seed}-{ranker.training_hash_}"
    return ranker
