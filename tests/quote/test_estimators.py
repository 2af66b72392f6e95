"""IntervalRegressor: the scikit-learn contract, prior calibration, measured interval coverage."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from quote.estimators import IntervalRegressor


@parametrize_with_checks(
    [
        IntervalRegressor(n_estimators=15, cv=3, n_jobs=1, random_state=0),
        IntervalRegressor(
            n_estimators=15,
            learning_rate=0.3,
            cv=3,
            prior_columns=(0,),
            select_n_estimators=False,
            subsample=0.8,
            n_jobs=1,
            random_state=0,
        ),
        IntervalRegressor(
            n_estimators=10,
            learning_rate=0.3,
            cv=3,
            linear_columns=(0,),
            linear_alpha=0.01,
            n_jobs=1,
            random_state=0,
        ),
        IntervalRegressor(
            n_estimators=10,
            learning_rate=0.3,
            cv=3,
            prior_columns=(0,),
            prior_scaling_columns=(-1,),
            extra_charges=(-1, 0, 0),
            linear_columns=(0,),
            n_jobs=1,
            random_state=0,
        ),
    ]
)
def test_sklearn_contract(estimator, check):  # type: ignore[no-untyped-def]
    check(estimator)


def _additive_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A priced-by-parts problem: 3 positive cost parts; the 'true' price weights them
    (1.0, 1.6, 0.7), adds a nonlinear surcharge on feature 3, and 8% lognormal noise.

    Returns X (n, 4): logs of the 3 parts and a free feature in [0, 1]; y = log price.
    """
    rng = np.random.default_rng(seed)
    parts = np.exp(rng.normal([7.0, 6.0, 6.5], 0.8, size=(n, 3)))
    free = rng.uniform(0, 1, n)
    price = parts @ np.array([1.0, 1.6, 0.7]) * np.where(free > 0.7, 1.25, 1.0)
    y = np.log(price) + rng.normal(0, 0.08, n)
    return np.column_stack([np.log(parts), free]), y


def test_prior_calibration_recovers_part_weights() -> None:
    X, y = _additive_problem(300, 1)
    est = IntervalRegressor(
        n_estimators=1, prior_columns=(0, 1, 2), prior_ridge=0.1, cv=2, random_state=0
    ).fit(X[X[:, 3] <= 0.7], y[X[:, 3] <= 0.7])
    np.testing.assert_allclose(est.prior_weights_, [1.0, 1.6, 0.7], rtol=0.12)
    parts = est.prior_parts(X[:5])
    assert parts.shape == (5, 3)
    assert np.all(parts > 0)


def test_trees_correct_what_the_prior_misses() -> None:
    X, y = _additive_problem(600, 2)
    Xte, yte = _additive_problem(400, 3)
    prior_only = IntervalRegressor(n_estimators=1, prior_columns=(0, 1, 2), random_state=0)
    full = IntervalRegressor(n_estimators=200, prior_columns=(0, 1, 2), random_state=0)
    err_prior = np.mean(np.abs(prior_only.fit(X, y).predict(Xte) - yte))
    err_full = np.mean(np.abs(full.fit(X, y).predict(Xte) - yte))
    # The 25% surcharge is invisible to the prior; the trees should find it.
    assert err_full < 0.8 * err_prior
    assert full.best_iteration_ > 1


def test_contributions_sum_to_prediction() -> None:
    X, y = _additive_problem(200, 4)
    est = IntervalRegressor(n_estimators=50, prior_columns=(0, 1, 2), random_state=0).fit(X, y)
    contrib = est.contributions(X[:20])
    assert contrib.shape == (20, X.shape[1] + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), est.predict(X[:20]), rtol=1e-9, atol=1e-9)
    pred, contrib2 = est.predict_with_contributions(X[:20])
    np.testing.assert_allclose(pred, est.predict(X[:20]))


@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_interval_coverage_is_near_nominal(coverage: float) -> None:
    # Heteroscedastic-free but heavy-ish tailed noise (t with 5 dof), held-out data.
    rng = np.random.default_rng(5)
    n_train, n_test = 800, 3000
    X = rng.uniform(-1, 1, size=(n_train + n_test, 5))
    f = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3]
    y = f + 0.3 * rng.standard_t(5, size=len(f))
    est = IntervalRegressor(n_estimators=150, random_state=0).fit(X[:n_train], y[:n_train])
    lo, hi = est.predict_interval(X[n_train:], coverage=coverage)
    covered = np.mean((y[n_train:] >= lo) & (y[n_train:] <= hi))
    assert abs(covered - coverage) < 0.04, covered
    assert np.all(lo <= hi)


def test_monotone_constraint_holds() -> None:
    rng = np.random.default_rng(6)
    X = rng.uniform(0, 1, size=(400, 2))
    y = -np.log1p(10 * X[:, 0]) + rng.normal(0, 0.3, 400)  # noisy: trees could wiggle
    est = IntervalRegressor(n_estimators=100, monotone_constraints=(-1, 0), random_state=0)
    est.fit(X, y)
    grid = np.column_stack([np.linspace(0, 1, 50), np.full(50, 0.5)])
    assert np.all(np.diff(est.predict(grid)) <= 1e-12)


def test_same_seed_same_model() -> None:
    X, y = _additive_problem(200, 7)
    a = IntervalRegressor(n_estimators=40, subsample=0.7, random_state=3).fit(X, y)
    b = IntervalRegressor(n_estimators=40, subsample=0.7, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.residuals_, b.residuals_)


def test_linear_step_learns_a_trend_and_respects_monotone_signs() -> None:
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 3, size=(150, 3))
    y = 0.5 * X[:, 0] - 0.3 * X[:, 1] + rng.normal(0, 0.05, 150)
    free = IntervalRegressor(n_estimators=5, linear_columns=(0, 1), linear_alpha=0.001)
    free.fit(X, y)
    np.testing.assert_allclose(free.linear_coef_, [0.5, -0.3], atol=0.03)
    # A +1 constraint on column 1 forbids its negative slope: the coefficient is dropped.
    tied = IntervalRegressor(
        n_estimators=5,
        linear_columns=(0, 1),
        linear_alpha=0.001,
        monotone_constraints=(0, 1, 0),
    ).fit(X, y)
    assert tied.linear_coef_[1] == 0.0 and tied.linear_coef_[0] > 0.4
    contrib = free.contributions(X[:10])
    np.testing.assert_allclose(contrib.sum(axis=1), free.predict(X[:10]), atol=1e-9)
    # The linear terms are reported under their own columns.
    assert np.corrcoef(contrib[:, 0], X[:10, 0])[0, 1] > 0.9


def test_unchecked_input_path_matches() -> None:
    X, y = _additive_problem(120, 9)
    est = IntervalRegressor(n_estimators=30, prior_columns=(0, 1, 2), random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), est.predict(X, check_input=False))


def test_predict_is_prior_plus_lightgbm_trees_and_caches_do_not_go_stale() -> None:
    X, y = _additive_problem(300, 12)
    est = IntervalRegressor(n_estimators=60, prior_columns=(0, 1, 2), random_state=0).fit(X, y)
    trees = est.booster_.predict(X, raw_score=True)
    np.testing.assert_array_equal(est.predict(X), est.base_.predict(X) + trees)
    quantiles = est.residual_quantiles(0.9)
    # Nothing derived is pickled: the bytes before and after the caches are filled are equal.
    blank = IntervalRegressor(n_estimators=60, prior_columns=(0, 1, 2), random_state=0).fit(X, y)
    assert pickle.dumps(blank) == pickle.dumps(est)
    # A refit on other data answers from the new trees and residuals, not the cached ones.
    X2, y2 = _additive_problem(300, 13)
    est.fit(X2, y2 + 0.5)
    np.testing.assert_array_equal(
        est.predict(X), est.base_.predict(X) + est.booster_.predict(X, raw_score=True)
    )
    assert est.residual_quantiles(0.9) != quantiles
    assert est.residual_quantiles(0.9) == IntervalRegressor(
        n_estimators=60, prior_columns=(0, 1, 2), random_state=0
    ).fit(X2, y2 + 0.5).residual_quantiles(0.9)


def _scaled_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A shop whose quantity discount covers one cost part only, with a charge per lot.

    Two positive parts ("material" and "machining", JPY) and a quantity q in 1..500; the price
    is ``1.0 material + 1.5 machining * q^-0.3 + 3000 / q`` with 3% lognormal noise. Returns
    X (n, 3): logs of the two parts and log q; y = log price.
    """
    rng = np.random.default_rng(seed)
    parts = np.exp(rng.normal([7.0, 7.5], 0.7, size=(n, 2)))
    log_q = rng.uniform(0.0, np.log(500.0), n)
    price = parts[:, 0] + 1.5 * parts[:, 1] * np.exp(-0.3 * log_q) + 3000.0 * np.exp(-log_q)
    y = np.log(price) + rng.normal(0, 0.03, n)
    return np.column_stack([np.log(parts), log_q]), y


def test_scaled_prior_learns_each_parts_own_quantity_curve_and_a_lot_charge() -> None:
    X, y = _scaled_problem(300, 10)
    Xte, yte = _scaled_problem(300, 11)
    kw = dict(n_estimators=1, select_n_estimators=False, prior_columns=(0, 1), cv=2)
    plain = IntervalRegressor(**kw, linear_columns=(2,), linear_alpha=0.001).fit(X, y)
    scaled = IntervalRegressor(
        **kw, prior_scaling_columns=(2,), scaling_ridge=0.01, extra_charges=(2, 0, 1)
    ).fit(X, y)
    # Rows: material, machining, charge per lot, charge per piece; per unit of log q.
    coef = scaled.prior_scaling_coef_[:, 0]
    np.testing.assert_allclose(coef[:2], [0.0, -0.3], atol=0.05)
    assert abs(coef[2]) < 0.1  # the lot charge is a lot charge: 1/q, no more
    # Extra charges are quoted at the mean log quantity; the lot charge is about 3000 JPY.
    lot, piece = scaled.extra_charges_
    assert 2500 < lot * np.exp(-coef[2] * X[:, 2].mean()) < 3600 and piece < 100
    err_plain = np.mean(np.abs(plain.predict(Xte) - yte))
    err_scaled = np.mean(np.abs(scaled.predict(Xte) - yte))
    # A common quantity trend cannot price both parts; the scaled prior is near the noise.
    assert err_scaled < 0.035 < 0.6 * err_plain
    # Extra charges are reported under the prior parts they are placed in, and all adds up.
    parts = scaled.prior_parts(Xte[:20])
    assert parts.shape == (20, 2) and np.all(parts > 0)
    np.testing.assert_allclose(np.log(parts.sum(axis=1)), scaled.base_.log_prior(Xte[:20]))
    contrib = scaled.contributions(Xte[:20])
    np.testing.assert_allclose(contrib.sum(axis=1), scaled.predict(Xte[:20]), atol=1e-9)


@pytest.mark.parametrize(
    "kw",
    [
        dict(prior_scaling_columns=(2,)),  # no prior to scale
        dict(prior_columns=(0,), prior_scaling_columns=(7,)),
        dict(prior_columns=(0,), extra_charges=(2, 0, 3)),  # piece part outside the prior
        dict(prior_columns=(0,), calibrate_prior=False, extra_charges=(2, 0, 0)),
    ],
)
def test_scaling_and_extra_charges_are_validated(kw: dict) -> None:
    X, y = _scaled_problem(40, 12)
    with pytest.raises(ValueError):
        IntervalRegressor(n_estimators=2, cv=2, **kw).fit(X, y)


def test_scalings_are_held_at_the_edge_of_the_history() -> None:
    # Fitted on 1..500 pieces, the machining part's power of quantity says nothing about 50,000:
    # there it stays at its 500-piece value, while the charge per lot keeps falling as 1/q.
    X, y = _scaled_problem(300, 13)
    est = IntervalRegressor(
        n_estimators=1,
        select_n_estimators=False,
        prior_columns=(0, 1),
        prior_scaling_columns=(2,),
        extra_charges=(2, 0, 1),
        linear_columns=(2,),
        cv=2,
    ).fit(X, y)
    edge, beyond = X[:5].copy(), X[:5].copy()
    edge[:, 2] = X[:, 2].max()
    beyond[:, 2] = np.log(50_000.0)
    at_edge, far = est.prior_parts(edge), est.prior_parts(beyond)
    # Part 1 (machining, plus the piece charge) is unchanged, part 0 (material, plus the lot
    # charge) falls by the lot charge's share, and the linear step is flat.
    np.testing.assert_allclose(far[:, 1], at_edge[:, 1], rtol=1e-12)
    assert np.all(far[:, 0] < at_edge[:, 0])
    np.testing.assert_allclose(est.base_.linear_terms(beyond), est.base_.linear_terms(edge))
    assert np.all(est.predict(beyond) <= est.predict(edge) + 1e-12)
