"""The stages before the trees, moved from quote/estimators.py: pickles made before still load.

``data/interval_regressor_pre_split.pkl`` (7 KB) was written by the code of commit f328e56, when
these stages lived in ``quote.estimators``: a fitted ``IntervalRegressor`` with prior scalings,
extra charges and a log-linear step (its ``base_`` pickled as ``quote.estimators._Base``), a
``_ScaledPrior`` as ``_fit_scaled_prior`` returned it, and what the regressor predicted for five
rows then. Stored shop models are such pickles; ``quote.estimators`` keeps aliases for them.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quote.estimators import IntervalRegressor
from quote.priors import BaseStages, ScaledPrior

OLD_PICKLE = Path(__file__).parent / "data" / "interval_regressor_pre_split.pkl"
# The same estimator on the same rows: only float summation order may differ.
REL_TOL = 1e-9


@pytest.fixture(scope="module")
def old() -> dict[str, Any]:
    payload: dict[str, Any] = pickle.loads(OLD_PICKLE.read_bytes())
    return payload


def test_the_old_pickle_names_the_classes_by_their_old_module_path() -> None:
    raw = OLD_PICKLE.read_bytes()
    assert b"quote.estimators" in raw and b"quote.priors" not in raw
    assert b"_Base" in raw and b"_ScaledPrior" in raw


def test_classes_pickled_before_the_split_load_as_the_moved_ones(old: dict[str, Any]) -> None:
    est = old["estimator"]
    assert isinstance(est, IntervalRegressor) and isinstance(est.base_, BaseStages)
    assert est.base_.scaling_coef is not None and est.base_.extra_weights is not None
    assert isinstance(old["scaled_prior"], ScaledPrior)
    np.testing.assert_array_equal(old["scaled_prior"].weights, old["scaled_weights"])


def test_a_regressor_pickled_before_the_split_predicts_as_it_did(old: dict[str, Any]) -> None:
    est, X = old["estimator"], old["X"]
    np.testing.assert_allclose(est.predict(X), old["predict"], rtol=REL_TOL)
    lo, hi = est.predict_interval(X)
    np.testing.assert_allclose(lo, old["lo90"], rtol=REL_TOL)
    np.testing.assert_allclose(hi, old["hi90"], rtol=REL_TOL)
    np.testing.assert_allclose(est.prior_parts(X), old["prior_parts"], rtol=REL_TOL)
    np.testing.assert_allclose(est.contributions(X), old["contributions"], rtol=REL_TOL)


def test_a_repickled_old_regressor_names_the_new_module(old: dict[str, Any]) -> None:
    raw = pickle.dumps(old["estimator"])
    assert b"quote.priors" in raw and b"_Base" not in raw
    again = pickle.loads(raw)
    np.testing.assert_allclose(again.predict(old["X"]), old["predict"], rtol=REL_TOL)
