"""The learned ranker (``LambdaRanker``, LightGBM lambdarank / rank_xendcg trained on graded
outcomes: shown 0, quoted 1, awarded 2, delivered on time 3), its NDCG metric and its artifact."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from matching.errors import InvalidTrainingData
from matching.ranking.features import FEATURES


def _groups_from(n: int, group: Any, qid: Any) -> np.ndarray:
    if group is not None and qid is not None:
        raise InvalidTrainingData("give group sizes or qid, not both")
    if qid is not None:
        q = np.asarray(qid)
        if q.shape != (n,):
            raise InvalidTrainingData(f"qid must have one id per row ({n}), got {q.shape}")
        change = np.flatnonzero(q[1:] != q[:-1]) + 1
        bounds = np.concatenate([[0], change, [n]])
        sizes = np.diff(bounds)
        if len(np.unique(q)) != len(sizes):
            raise InvalidTrainingData("rows of one query (qid) must be contiguous")
        return sizes
    if group is None:
        return np.array([n])
    g = np.asarray(group, dtype=np.int64)
    if g.ndim != 1 or (g <= 0).any() or g.sum() != n:
        raise InvalidTrainingData(
            f"group must be positive query sizes adding up to the {n} rows, got sum {g.sum()}"
        )
    return g


class LambdaRanker(BaseEstimator):
    """LightGBM learning-to-rank behind the scikit-learn estimator API.

    objective: "lambdarank" or "rank_xendcg". Labels: graded relevance, whole numbers 0..3
    (shown, quoted, awarded, delivered on time). ``fit(X, y, group=sizes)`` or ``qid=ids``;
    without either, all rows form one query (the plain scikit-learn call). ``predict`` returns
    scores: higher ranks first; only the order within a query means anything.
    """

    def __init__(
        self,
        objective: str = "lambdarank",
        n_estimators: int = 120,
        learning_rate: float = 0.08,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.9,
        reg_lambda: float = 1.0,
        lambdarank_truncation_level: int = 10,
        random_state: int | None = 0,
        n_jobs: int = 1,
    ) -> None:
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.lambdarank_truncation_level = lambdarank_truncation_level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, group: Any = None, qid: Any = None) -> LambdaRanker:
        import lightgbm as lgb

        if self.objective not in ("lambdarank", "rank_xendcg"):
            raise InvalidTrainingData(
                f"objective must be 'lambdarank' or 'rank_xendcg', got {self.objective!r}"
            )
        X, y = validate_data(
            self, X, y, dtype=np.float64, y_numeric=True, ensure_all_finite="allow-nan"
        )
        yi = np.asarray(y, dtype=np.float64)
        if (yi < 0).any() or (yi != np.round(yi)).any() or (yi > 30).any():
            raise InvalidTrainingData("labels must be whole relevance grades from 0 to 30")
        sizes = _groups_from(len(yi), group, qid)
        params: dict[str, Any] = {
            "objective": self.objective,
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1.0 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        if self.objective == "lambdarank":
            params["lambdarank_truncation_level"] = self.lambdarank_truncation_level
        self.model_ = lgb.LGBMRanker(**params)
        self.model_.fit(X, yi.astype(np.int32), group=sizes)
        self.booster_ = self.model_.booster_
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "booster_")
        # NaN is a feature's "unknown" (a shop without coordinates has no distance): LightGBM
        # sends it down each split's learnt default branch.
        X = validate_data(self, X, dtype=np.float64, reset=False, ensure_all_finite="allow-nan")
        return np.asarray(self.booster_.predict(X, num_threads=self.n_jobs), dtype=np.float64)

    def score(self, X: Any, y: Any, group: Any = None, qid: Any = None) -> float:
        """Mean NDCG@5 over the queries (1.0 = perfect order)."""
        s = self.predict(X)
        sizes = _groups_from(len(s), group, qid)
        return mean_ndcg(np.asarray(y, dtype=float), s, sizes, k=5)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        return tags


def ndcg_at_k(labels: np.ndarray, scores: np.ndarray, k: int = 5) -> float:
    """NDCG@k of one query, gains 2**label - 1; 1.0 when the query has no relevant item.

    Ties in ``scores`` are broken by position (stable), which a caller shuffles if needed.
    """
    order = np.argsort(-scores, kind="stable")[:k]
    gains = 2.0**labels - 1.0
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((gains[order] * disc[: len(order)]).sum())
    ideal = np.sort(gains)[::-1][:k]
    idcg = float((ideal * disc[: len(ideal)]).sum())
    return dcg / idcg if idcg > 0 else 1.0


def mean_ndcg(labels: np.ndarray, scores: np.ndarray, sizes: np.ndarray, k: int = 5) -> float:
    out = []
    start = 0
    for s in sizes:
        out.append(ndcg_at_k(labels[start : start + s], scores[start : start + s], k))
        start += s
    return float(np.mean(out)) if out else 0.0


def training_hash(X: np.ndarray, y: np.ndarray, sizes: np.ndarray) -> str:
    """SHA-256 (first 16 hex) of the training arrays: artifacts name the data they came from."""
    h = hashlib.sha256()
    for a in (np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, float), np.asarray(sizes)):
        h.update(a.tobytes())
    return h.hexdigest()[:16]


RANKER_FORMAT = 1
REBUILD = "rebuild it with `mitsumori ranker build` (or `make model`)"


def save_ranker(ranker: LambdaRanker, path: Any) -> None:
    """Write a fitted ranker with its features, version, data hash and metrics (joblib)."""
    import joblib

    check_is_fitted(ranker, "booster_")
    joblib.dump({"format": RANKER_FORMAT, "features": FEATURES, "ranker": ranker}, path)


def load_ranker(path: Any) -> LambdaRanker:
    """Read a ranker written by ``save_ranker``; typed errors if missing or from another
    feature set (retrain with ``train_default_ranker`` then)."""
    from pathlib import Path

    import joblib

    from quote.errors import ModelIncompatible, ModelNotFound

    p = Path(path)
    if not p.is_file():
        raise ModelNotFound(f"no ranker at {p}; {REBUILD}")
    try:
        blob = joblib.load(p)
    except Exception as err:  # a truncated or foreign file
        raise ModelIncompatible(f"{p} is not a readable ranker file ({err}); {REBUILD}") from None
    if not isinstance(blob, dict) or blob.get("format") != RANKER_FORMAT:
        raise ModelIncompatible(
            f"{p} was written by another version of the ranker format; {REBUILD}"
        )
    if tuple(blob.get("features", ())) != FEATURES:
        raise ModelIncompatible(f"{p} was trained on other features; {REBUILD}")
    return blob["ranker"]
