"""Learned estimators of the quote engine: scikit-learn regressors with LightGBM inside.

`IntervalRegressor` is one estimator used for both the unit price (target: log JPY) and the lead
time (target: log business days). It has four stages, each of which can be switched off:

1. **Prior.** Some columns of ``X`` can hold the logs of positive additive parts of a prior
   estimate of ``exp(y)`` (for prices: the physics cost parts, material + setup + roughing +
   ...; for lead times: queue + machining + ... days). The prior is
   ``log(sum_k w_k * exp(x_k))``. With ``calibrate_prior`` the weights ``w_k >= 0`` are fitted
   by ridge-regularised least squares on the *relative* error, pulled toward a common scale: a
   shop whose hourly rate is 30% above the catalog moves ``w_machining`` to ~1.3 with a handful
   of rows, and a shop 20% dearer overall moves all of them. Without prior columns the prior
   is the mean of ``y``. With ``prior_scaling_columns`` each part also gets its own power of
   those columns, ``w_k * exp(x_k + b_k . (z - mean))`` (a shop's quantity discount may cover
   its machining and not its material), and with ``extra_charges`` two parts the prior lacks
   are added, a charge per lot and a charge per piece, scaled alike; weights, scalings, charges
   and the log-linear step below are then fitted together on the log error
   (``quote.priors.fit_scaled_prior``).
2. **Log-linear step** (``linear_columns``). A ridge regression on the log residual of the
   prior: smooth trends (a flatter quantity discount, a premium per tolerance step) are learnt
   from 50-200 rows far more reliably by a line than by tree steps. Coefficients whose sign
   breaks a monotone constraint are dropped (bounded at zero in the joint fit).
3. **Correction.** LightGBM boosts from the two stages above (``init_score``), so the trees only
   learn what they get wrong. The number of trees is chosen by K-fold cross-validation when
   ``select_n_estimators`` is set: with little data or a good prior, few trees are kept.
4. **Intervals.** Conformal prediction, "CV" variant: the out-of-fold residuals of the same K
   folds give empirical quantiles; ``predict_interval`` adds them to the prediction. Each
   fold's residuals use the number of trees chosen on the other folds, so that they are not
   made optimistic by the choice. The coverage is marginal and is measured by the tests,
   ``bench/accuracy.py`` and ``bench/dev_shops.py``, not assumed.

Everything is vectorised: one single-threaded LightGBM call per ``predict``/``contributions``
(``check_input=False`` skips scikit-learn's validation on the engine's hot path).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from quote.conformal import conformal_quantiles
from quote.priors import (
    BaseStages,
    ScaledPrior,
    fit_linear_step,
    fit_prior_weights,
    fit_scaled_prior,
)

# Stored models are pickles that name classes by module path. Those saved before quote.priors was
# split out of this module name ``quote.estimators._Base`` (a fitted regressor's ``base_``) and
# ``quote.estimators._ScaledPrior``: these aliases keep them loading (tests/quote/test_priors.py).
_Base = BaseStages
_ScaledPrior = ScaledPrior

# Derived from fitted objects at first use, kept while they live, never pickled: a refit makes a
# new booster (and new residuals), so nothing stale is read.
_QUANTILES: weakref.WeakKeyDictionary[
    IntervalRegressor, tuple[np.ndarray, dict[float, tuple[float, float]]]
] = weakref.WeakKeyDictionary()


class IntervalRegressor(RegressorMixin, BaseEstimator):
    """Gradient-boosted regressor (LightGBM) on top of an optional calibrated additive prior,
    with conformal prediction intervals.

    Parameters
    ----------
    n_estimators : int
        Maximum number of boosting rounds (trees).
    learning_rate : float
        Shrinkage per tree.
    num_leaves : int
        Leaves per tree.
    min_child_samples : int
        Minimum rows in a leaf; large values regularise small shop histories.
    reg_lambda : float
        L2 regularisation of leaf values.
    subsample : float
        Row fraction per tree (bagging every round when < 1).
    colsample_bytree : float
        Feature fraction per tree.
    monotone_constraints : sequence of int or None
        Per feature: +1 prediction non-decreasing in it, -1 non-increasing, 0 free. Used so that
        unit prices never rise with quantity.
    prior_columns : sequence of int or None
        Columns holding logs of positive additive parts of a prior estimate of ``exp(y)``.
    calibrate_prior : bool
        Fit a non-negative weight per prior column (ridge toward a common scale) instead of
        taking the prior as it is.
    prior_ridge : float
        Strength of the pull of the prior weights toward a common (fitted) scale, in units of
        summed squared relative errors (one row off by 100% counts 1).
    linear_columns : sequence of int or None
        Columns of a ridge regression fitted on the log residual of the prior, before the trees:
        smooth trends (a shop's steeper quantity discount, its premium per tolerance step) are
        learnt from few rows more reliably by a line than by tree steps.
    linear_alpha : float
        Ridge penalty of that step, per row, on standardised columns.
    prior_scaling_columns : sequence of int or None
        Columns that scale each calibrated prior part by its own log-linear factor,
        ``w_k * exp(x_k + b_k . (z - mean))``: a shop's quantity discount may apply to its
        machining and not to its material, its tolerance surcharge to machining and inspection
        only. When given, the prior weights, these scalings and the log-linear step are fitted
        together by least squares on the log error (``quote.priors.fit_scaled_prior``).
    scaling_ridge : float
        Ridge penalty of those scalings on standardised columns, in units of summed squared
        log errors (it does not grow with the rows: a long history can afford the scalings, a
        short one is held near none).
    extra_charges : (int, int, int) or None
        ``(quantity column, lot part, piece part)``: adds to the prior two parts that have no
        prior column, a charge per lot spread over its pieces (``f / q``, ``q = exp(X[:,
        quantity column])``) and a charge per piece (``f``), scaled by
        ``prior_scaling_columns`` like the other parts, fitted with them (free of any ridge) and
        reported under the prior parts at positions ``lot part`` and ``piece part`` of
        ``prior_columns``: what a shop charges per order or per piece (handling, paperwork,
        packing, its own way of costing) is not all in an estimate built from machine hours and
        material.
    select_n_estimators : bool
        Choose the number of trees (1..n_estimators) by K-fold cross-validated squared error.
    cv : int
        Folds for tree selection and for the out-of-fold residuals of the intervals.
    random_state : int, RandomState or None
        Seed of folds, bagging and LightGBM.
    n_jobs : int
        LightGBM threads.

    Attributes
    ----------
    n_features_in_ : int
    prior_weights_ : ndarray of shape (len(prior_columns),) or None
    offset_ : float
        Constant prior (mean of y) when there are no prior columns.
    linear_coef_ : ndarray of shape (len(linear_columns),) or None
        Log-linear step's coefficients (per unit of each column).
    prior_scaling_coef_ : ndarray of shape (n_parts, len(prior_scaling_columns)) or None
        Each prior part's power of each scaling column (per unit of the column); the rows are
        the prior parts, then the charge per lot and the charge per piece with extra charges.
    extra_charges_ : ndarray of shape (2,) or None
        Charge per lot and charge per piece, units of ``exp(y)``, at the scaling columns' means.
    booster_ : lightgbm.Booster
    best_iteration_ : int
        Trees used.
    residuals_ : ndarray of shape (n_samples,)
        Out-of-fold residuals ``y - y_hat`` (in-sample when there are too few rows for folds).
    cv_rmse_ : float
        Root mean squared out-of-fold error.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        reg_lambda: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        monotone_constraints: Sequence[int] | None = None,
        prior_columns: Sequence[int] | None = None,
        calibrate_prior: bool = True,
        prior_ridge: float = 1.0,
        linear_columns: Sequence[int] | None = None,
        linear_alpha: float = 0.1,
        prior_scaling_columns: Sequence[int] | None = None,
        scaling_ridge: float = 0.2,
        extra_charges: Sequence[int] | None = None,
        select_n_estimators: bool = True,
        cv: int = 5,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.monotone_constraints = monotone_constraints
        self.prior_columns = prior_columns
        self.calibrate_prior = calibrate_prior
        self.prior_ridge = prior_ridge
        self.linear_columns = linear_columns
        self.linear_alpha = linear_alpha
        self.prior_scaling_columns = prior_scaling_columns
        self.scaling_ridge = scaling_ridge
        self.extra_charges = extra_charges
        self.select_n_estimators = select_n_estimators
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ---------------------------------------------------------------------------

    def _lgb_params(self, n_samples: int, n_features: int, seed: int) -> dict[str, Any]:
        # Bagging a handful of rows could draw none, which LightGBM refuses.
        bagging = self.subsample < 1.0 and n_samples * self.subsample >= 2.0
        params: dict[str, Any] = {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if bagging else 0,
            "boost_from_average": False,  # the prior is the init score
            "num_threads": self.n_jobs,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbose": -1,
        }
        if self.monotone_constraints is not None:
            mc = [int(c) for c in self.monotone_constraints]
            if len(mc) != n_features:
                raise ValueError(
                    f"monotone_constraints has {len(mc)} entries, X has {n_features} features"
                )
            params["monotone_constraints"] = mc
        return params

    def _check_columns(
        self, n_features: int
    ) -> tuple[
        tuple[int, ...] | None, tuple[int, ...], tuple[int, ...], tuple[int, int, int] | None
    ]:
        """Validated prior, linear and prior-scaling column indices, and extra charges."""
        prior = None
        if self.prior_columns is not None:
            prior = tuple(int(c) for c in self.prior_columns)
            if not prior or any(not -n_features <= c < n_features for c in prior):
                raise ValueError(f"prior_columns {prior} out of range for {n_features} features")
        linear: tuple[int, ...] = ()
        if self.linear_columns is not None:
            linear = tuple(int(c) for c in self.linear_columns)
            if any(not -n_features <= c < n_features for c in linear):
                raise ValueError(f"linear_columns {linear} out of range for {n_features} features")
        scaling: tuple[int, ...] = ()
        if self.prior_scaling_columns is not None:
            scaling = tuple(int(c) for c in self.prior_scaling_columns)
            if any(not -n_features <= c < n_features for c in scaling):
                raise ValueError(
                    f"prior_scaling_columns {scaling} out of range for {n_features} features"
                )
            if scaling and (prior is None or not self.calibrate_prior):
                raise ValueError("prior_scaling_columns needs prior_columns and calibrate_prior")
        extra: tuple[int, int, int] | None = None
        if self.extra_charges is not None:
            quantity, lot, piece = (int(c) for c in self.extra_charges)
            if prior is None or not self.calibrate_prior:
                raise ValueError("extra_charges needs prior_columns and calibrate_prior")
            if not -n_features <= quantity < n_features or any(
                not -len(prior) <= c < len(prior) for c in (lot, piece)
            ):
                raise ValueError(
                    f"extra_charges {tuple(self.extra_charges)} out of range: (quantity column, "
                    "lot part, piece part), the parts being positions in prior_columns"
                )
            extra = (quantity, lot % len(prior), piece % len(prior))
        return prior, linear, scaling, extra

    def _fit_base(self, X: np.ndarray, y: np.ndarray, p: int) -> BaseStages:
        """Fit the stages before the trees (prior weights, offset, log-linear step) on (X, y)."""
        prior, linear, scaling, extra = self._check_columns(p)
        sign = np.zeros(len(linear))
        if self.monotone_constraints is not None:
            sign = np.array([float(self.monotone_constraints[c]) for c in linear])
        if (scaling or extra) and prior is not None and len(y) > 1:
            fit = fit_scaled_prior(
                X, y, prior, scaling, None if extra is None else extra[0], linear, sign,
                self.prior_ridge, self.scaling_ridge, self.linear_alpha,
            )  # fmt: skip
            return BaseStages(
                prior, fit.weights, 0.0, linear, fit.coef, fit.mean,
                scaling, fit.scaling_coef, fit.scaling_mean,
                extra, fit.extra_weights if extra is not None else None,
                fit.scaling_range, fit.linear_range,
            )  # fmt: skip
        if prior is None:
            weights, offset = None, float(np.mean(y))
        elif self.calibrate_prior:
            weights, offset = fit_prior_weights(X, y, prior, self.prior_ridge), 0.0
        else:
            weights, offset = np.ones(len(prior)), 0.0
        base = BaseStages(prior, weights, offset, linear, None, None)
        if linear and len(y) > 1:
            coef, mean = fit_linear_step(X, y - base.log_prior(X), linear, sign, self.linear_alpha)
            base = BaseStages(prior, weights, offset, linear, coef, mean)
        return base

    def fit(self, X: Any, y: Any) -> IntervalRegressor:
        """Fit prior weights, the log-linear step, trees and conformal residuals.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Target (log JPY for prices, log days for lead times).

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        n, p = X.shape
        self._check_columns(p)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        params = self._lgb_params(n, p, seed)
        max_trees = max(int(self.n_estimators), 1)

        n_splits = min(int(self.cv), n)
        best = max_trees
        residuals = np.zeros(n)
        if n_splits >= 2:
            folds = list(KFold(n_splits, shuffle=True, random_state=seed).split(X))
            fold_models = []
            curve = np.zeros(max_trees)
            for train, test in folds:
                base = self._fit_base(X[train], y[train], p)
                init_tr, init_te = base.predict(X[train]), base.predict(X[test])
                record: dict[str, Any] = {}
                booster = lgb.train(
                    params,
                    lgb.Dataset(X[train], y[train], init_score=init_tr),
                    num_boost_round=max_trees,
                    valid_sets=[lgb.Dataset(X[test], y[test], init_score=init_te)],
                    valid_names=["oof"],
                    callbacks=[lgb.record_evaluation(record)],
                )
                mse = np.asarray(record["oof"]["l2"], dtype=float)
                # LightGBM stops early when no split has positive gain: hold the last value.
                mse = np.concatenate([mse, np.full(max_trees - len(mse), mse[-1])])
                curve += mse * len(test)
                fold_models.append((test, init_te, booster, mse * len(test)))
            if self.select_n_estimators:
                best = int(np.argmin(curve)) + 1
            for test, init_te, booster, own in fold_models:
                # A fold's residuals use the number of trees the OTHER folds choose: choosing it
                # on the fold's own errors too would make them optimistic, and the intervals
                # built from them too narrow (about 1.5% in RMSE on 200 rows).
                trees = int(np.argmin(curve - own)) + 1 if self.select_n_estimators else best
                pred = init_te + booster.predict(X[test], num_iteration=trees, raw_score=True)
                residuals[test] = y[test] - pred

        base = self._fit_base(X, y, p)
        init = base.predict(X)
        self.booster_ = lgb.train(params, lgb.Dataset(X, y, init_score=init), best)
        self.base_ = base
        self.prior_weights_ = base.weights
        self.offset_ = base.offset
        self.linear_coef_ = base.coef
        self.prior_scaling_coef_ = base.scaling_coef
        self.extra_charges_ = base.extra_weights
        self.best_iteration_ = best
        if n_splits < 2:
            residuals = y - (init + self._trees(X, raw_score=True))
        self.residuals_ = residuals
        self.cv_rmse_ = float(np.sqrt(np.mean(residuals**2)))
        return self

    # -- prediction ------------------------------------------------------------------------

    def _validated(self, X: Any, check_input: bool) -> np.ndarray:
        if not check_input and hasattr(self, "booster_"):
            # The engine's hot path: X is already a float64 matrix of the right width, and
            # sklearn's validation would cost more than the prediction.
            return X
        check_is_fitted(self, "booster_")
        return validate_data(self, X, dtype=np.float64, reset=False)

    def _trees(self, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        # One thread: a handful of rows per quote, where thread start-up dominates.
        return np.asarray(self.booster_.predict(X, num_threads=self.n_jobs, **kwargs), dtype=float)

    def predict(self, X: Any, check_input: bool = True) -> np.ndarray:
        """Point prediction, shape (n_samples,), in the target's units (log JPY / log days).

        ``check_input=False`` skips input validation (X must be a float64 array of
        ``n_features_in_`` columns), as scikit-learn's trees allow.
        """
        X = self._validated(X, check_input)
        return self.base_.predict(X) + self._trees(X, raw_score=True)

    def residual_quantiles(self, coverage: float = 0.9) -> tuple[float, float]:
        """(low, high) offsets added to a prediction for a conformal interval of ``coverage``."""
        residuals: np.ndarray | None = getattr(self, "residuals_", None)
        if residuals is None:
            check_is_fitted(self, "residuals_")  # raises NotFittedError
            raise AssertionError("not reached: check_is_fitted raised")
        if not 0.0 < coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {coverage}")
        # Every quote asks for the same coverages of the same residuals: sort them once per fit
        # (the cache holds the residuals it was made from; a refit makes new ones).
        cached = _QUANTILES.get(self)
        if cached is None or cached[0] is not residuals:
            cached = _QUANTILES[self] = (residuals, {})
        by_coverage = cached[1]
        if coverage not in by_coverage:
            by_coverage[coverage] = conformal_quantiles(cached[0], coverage)
        return by_coverage[coverage]

    def predict_interval(self, X: Any, coverage: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Conformal interval (low, high) of nominal ``coverage``, each shape (n_samples,)."""
        lo, hi = self.residual_quantiles(coverage)
        pred = self.predict(X)
        return pred + lo, pred + hi

    def contributions(self, X: Any, check_input: bool = True) -> np.ndarray:
        """Per-feature contributions to the prediction, shape (n_samples, n_features + 1).

        Columns 0..n_features-1 are LightGBM's SHAP values (``pred_contrib``) of the trees' part
        plus the log-linear step's term of that feature; the last column is the trees' expected
        value plus the prior (log of the calibrated prior, or the constant offset). Each row sums
        to ``predict(X)``.
        """
        X = self._validated(X, check_input)
        contrib = self._trees(X, pred_contrib=True).reshape(X.shape[0], X.shape[1] + 1)
        contrib[:, -1] += self.base_.log_prior(X)
        if self.base_.coef is not None:
            # add.at: a column listed twice gets both terms.
            cols = np.asarray(self.base_.linear, dtype=int) % X.shape[1]
            np.add.at(contrib.T, cols, self.base_.linear_terms(X).T)
        return contrib

    def predict_with_contributions(
        self, X: Any, check_input: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(X), contributions(X))`` in one LightGBM call (the engine's hot path)."""
        contrib = self.contributions(X, check_input)
        return contrib.sum(axis=1), contrib

    def prior_parts(self, X: Any, check_input: bool = True) -> np.ndarray:
        """Calibrated prior parts ``w_k * exp(x_k)``, shape (n_samples, len(prior_columns)),
        in the units of ``exp(y)`` (JPY, days); empty second axis without prior columns."""
        X = self._validated(X, check_input)
        if self.base_.prior is None or self.base_.weights is None:
            return np.zeros((X.shape[0], 0))
        return self.base_.parts(X)
