"""The learned model artifact: ``QuoteModel`` and its vectorised ``predict``.

``QuoteModel`` holds the price and lead-time estimators plus version, data hash and metrics.
``QuoteModel.predict`` turns (features, spec, physics) rows into ``ModelPrediction``s in one
vectorised call: unit price, 80% and 90% intervals, lead time, and the price split by cost
driver in JPY. Training is in ``quote.training``, saving and loading in ``quote.persistence``.

Units: JPY per piece, business days, mm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quote import featurize
from quote.catalogs import Catalog
from quote.errors import ModelIncompatible
from quote.estimators import IntervalRegressor
from quote.types import PartFeatures, PhysicsEstimate, QuoteSpec

Row = tuple[PartFeatures, QuoteSpec, PhysicsEstimate]

# 2: a shop model's prior parts carry their own scalings and extra charges (priors.BaseStages).
FORMAT_VERSION = 2


@dataclass(frozen=True)
class ModelPrediction:
    """What the learned model says about one (part, spec).

    unit_price: JPY per piece. unit_price_interval / unit_price_interval_80: conformal 90% / 80%
    intervals, JPY. lead_time_days / lead_time_interval: business days and its 90% interval.
    prior_unit_price: what the prior (physics, or the default model for a shop model) gave
    after the driver calibration, JPY. contributions: JPY per cost driver (featurize.DRIVERS)
    that, with ``base_value``, add up to ``unit_price``; empty (and ``base_value`` 0) when
    ``QuoteModel.predict`` was asked not to split this row (``contributions_for``).
    """

    unit_price: float
    unit_price_interval: tuple[float, float]
    unit_price_interval_80: tuple[float, float]
    lead_time_days: float
    lead_time_interval: tuple[float, float]
    lead_time_interval_80: tuple[float, float]
    prior_unit_price: float
    contributions: dict[str, float] = field(default_factory=dict)
    base_value: float = 0.0


def _log_mean_factor(new: np.ndarray, old: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """JPY per unit of log change between ``old`` and ``new`` prices (the logarithmic mean).

    Allocating ``factor * log_contribution`` to each term splits ``new - old`` exactly among
    terms whose log contributions sum to ``delta = log(new / old)``.
    """
    safe = np.abs(delta) > 1e-9
    return np.where(safe, (new - old) / np.where(safe, delta, 1.0), old)


class QuoteModel:
    """A trained price and lead-time model with its provenance; picklable.

    Attributes
    ----------
    name : str
        "default" or the shop name.
    version : str
        "default-<yyyymmdd>-<datahash8>" or "shop-<shop>-<yyyymmdd>-<datahash8>".
    shop : str or None
    created_at : str
        ISO 8601 UTC.
    trained_rows : int
    data_sha256 : str
        Hash of the training rows (features hash, spec, targets).
    metrics : dict
        Backtest on data the model did not see: ``price_mape`` (fraction), ``price_median_ape``,
        ``lead_mae_days``, ``price_coverage_80`` / ``_90``, ``lead_coverage_90``, ``rows``,
        ``method``.
    feature_names : tuple of str
    price_model, lead_model : IntervalRegressor
        Targets log JPY and log days over featurize.PRICE_COLUMNS / LEAD_COLUMNS. A shop model
        whose history has too few lead times has no lead model and uses its base's.
    base : QuoteModel or None
        The prior model of a shop model (the default model it was trained from).
    notes : list of str
        Rows skipped during training and why.
    """

    def __init__(
        self,
        *,
        name: str,
        version: str,
        shop: str | None,
        created_at: str,
        trained_rows: int,
        data_sha256: str,
        metrics: dict[str, Any],
        price_model: IntervalRegressor,
        lead_model: IntervalRegressor | None,
        base: QuoteModel | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.format_version = FORMAT_VERSION
        self.name = name
        self.version = version
        self.shop = shop
        self.created_at = created_at
        self.trained_rows = trained_rows
        self.data_sha256 = data_sha256
        self.metrics = dict(metrics)
        self.feature_names = featurize.FEATURE_NAMES
        self.price_model = price_model
        self.lead_model = lead_model
        self.base = base
        self.notes = list(notes)

    def __repr__(self) -> str:
        return f"QuoteModel({self.version!r}, rows={self.trained_rows})"

    # -- inputs of the estimators -------------------------------------------------------------

    def _price_inputs(self, X: np.ndarray) -> np.ndarray:
        """The price estimator's input from the full feature matrix.

        A shop model's prior columns hold the base model's price split like the physics
        breakdown, so the shop's calibration and trees start from the default model rather than
        from the bare physics.
        """
        Xp = X[:, _PRICE_INDEX]
        if self.base is None:
            return Xp
        log_price = self.base.price_model.predict(self.base._price_inputs(X), check_input=False)
        Xp = Xp.copy()
        Xp[:, featurize.PRICE_PRIOR] = _rescaled_log_parts(Xp[:, featurize.PRICE_PRIOR], log_price)
        return Xp

    def _lead_inputs(self, X: np.ndarray) -> np.ndarray:
        """The lead estimator's input (a shop model's prior: the base lead time split like the
        physics lead-time parts)."""
        Xl = X[:, _LEAD_INDEX]
        if self.base is None:
            return Xl
        log_lead = self.base._lead_log(X)
        Xl = Xl.copy()
        Xl[:, featurize.LEAD_PRIOR] = _rescaled_log_parts(Xl[:, featurize.LEAD_PRIOR], log_lead)
        return Xl

    def _lead_estimator(self) -> IntervalRegressor:
        if self.lead_model is not None:
            return self.lead_model
        if self.base is None:  # pragma: no cover - guarded at construction
            raise ModelIncompatible("model has neither a lead-time model nor a base model")
        return self.base._lead_estimator()

    def _lead_log(self, X: np.ndarray) -> np.ndarray:
        """Log lead time (business days) for the full feature matrix ``X``."""
        if self.lead_model is None:
            return self.base._lead_log(X)  # type: ignore[union-attr]  # base is set when lead is
        return self.lead_model.predict(self._lead_inputs(X), check_input=False)

    # -- prediction -----------------------------------------------------------------------------

    def predict_arrays(
        self, X: np.ndarray, contributions_for: Sequence[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Vectorised predictions from a feature matrix (featurize.build_matrix).

        Parameters
        ----------
        X
            Feature matrix, shape (n, len(featurize.FEATURE_NAMES)).
        contributions_for
            Rows whose price is split by cost driver (default: all). The split is LightGBM's
            SHAP pass, several times the cost of the price itself, and a quote shows it for one
            quantity of its price breaks.

        Returns
        -------
        dict of arrays, each shape (n,)
            price, price_lo90, price_hi90, price_lo80, price_hi80, lead, lead_lo90,
            lead_hi90, lead_lo80, lead_hi80 (JPY / business days), prior_price (JPY),
            base_value (JPY), and contributions, shape (n, len(DRIVERS)), JPY. base_value and
            contributions are NaN in rows not in ``contributions_for``.
        """
        n = X.shape[0]
        rows = np.arange(n) if contributions_for is None else np.asarray(contributions_for, int)
        Xp = self._price_inputs(X)
        pm = self.price_model
        lm = self._lead_estimator()
        log_p = pm.predict(Xp, check_input=False)
        # Point predictions and conformal intervals: exp of the log prediction plus the
        # residual quantiles, columns (point, lo90, hi90, lo80, hi80).
        prices = np.exp(log_p[:, None] + _interval_offsets(pm))
        leads = np.exp(self._lead_log(X)[:, None] + _interval_offsets(lm))
        out = {f"price{k}": prices[:, j] for j, k in enumerate(_INTERVAL_KEYS)}
        out.update({f"lead{k}": leads[:, j] for j, k in enumerate(_INTERVAL_KEYS)})

        parts = pm.prior_parts(Xp, check_input=False)  # (n, len(PRIOR_PARTS)) JPY, calibrated
        prior = parts.sum(axis=1)
        log_prior = np.log(np.maximum(prior, 1e-12))
        # The price split by driver: the calibrated prior's parts, plus the trees' and the
        # log-linear step's log contributions turned into JPY by the logarithmic mean factor.
        drivers = np.full((n, len(featurize.DRIVERS)), np.nan)
        base_value = np.full(n, np.nan)
        if len(rows):
            contrib = pm.contributions(Xp[rows], check_input=False)
            log_prior_r = log_prior[rows]
            factor = _log_mean_factor(out["price"][rows], prior[rows], log_p[rows] - log_prior_r)
            drivers[rows] = parts[rows] @ _PRIOR_DRIVER_MATRIX + factor[:, None] * (
                contrib[:, :-1] @ _PRICE_DRIVER_MATRIX
            )
            # The trees' expected value (last column minus the prior) is the base value.
            base_value[rows] = factor * (contrib[:, -1] - log_prior_r)
        out.update(prior_price=prior, contributions=drivers, base_value=base_value)
        return out

    def predict(
        self,
        rows: Sequence[Row],
        catalog: Catalog | None = None,
        *,
        contributions_for: Sequence[int] | None = None,
    ) -> list[ModelPrediction]:
        """One ``ModelPrediction`` per (features, spec, physics) row, in one vectorised pass.

        ``contributions_for``: the rows whose price is split by cost driver (default: all);
        the others have empty ``contributions`` and a ``base_value`` of 0.
        """
        if not rows:
            return []
        a = self.predict_arrays(featurize.build_matrix(rows, catalog), contributions_for)
        _non_increasing_in_quantity(rows, a)
        split = range(len(rows)) if contributions_for is None else set(contributions_for)
        # Plain floats in one go: indexing numpy arrays element by element is slow.
        v = {k: a[k].tolist() for k in a if k != "contributions"}
        out = []
        for i in range(len(rows)):
            contributions: dict[str, float] = {}
            base_value = 0.0
            if i in split:
                contributions = dict(
                    zip(featurize.DRIVERS, a["contributions"][i].tolist(), strict=True)
                )
                base_value = v["base_value"][i]
            out.append(
                ModelPrediction(
                    unit_price=v["price"][i],
                    unit_price_interval=(v["price_lo90"][i], v["price_hi90"][i]),
                    unit_price_interval_80=(v["price_lo80"][i], v["price_hi80"][i]),
                    lead_time_days=v["lead"][i],
                    lead_time_interval=(v["lead_lo90"][i], v["lead_hi90"][i]),
                    lead_time_interval_80=(v["lead_lo80"][i], v["lead_hi80"][i]),
                    prior_unit_price=v["prior_price"][i],
                    contributions=contributions,
                    base_value=base_value,
                )
            )
        return out


_PRICE_KEYS = ("price", "price_lo90", "price_hi90", "price_lo80", "price_hi80",
               "base_value")  # fmt: skip
_INTERVAL_KEYS = ("", "_lo90", "_hi90", "_lo80", "_hi80")


def _interval_offsets(est: IntervalRegressor) -> np.ndarray:
    """Log offsets of (point, lo90, hi90, lo80, hi80): 0 and the residual quantiles."""
    lo90, hi90 = est.residual_quantiles(0.9)
    lo80, hi80 = est.residual_quantiles(0.8)
    return np.array([0.0, lo90, hi90, lo80, hi80])


def _non_increasing_in_quantity(rows: Sequence[Row], a: dict[str, np.ndarray]) -> None:
    """Make unit prices never rise with quantity among rows of the same part and spec.

    The shop's corrections are free in quantity (its discount may be flatter than the
    physics'), so a price break could come out a little above a smaller quantity's. A buyer
    never pays more per piece for ordering more: such a row takes the smaller quantity's price,
    its interval and contributions scaled alike. In place on the arrays of ``predict_arrays``.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, (f, s, _) in enumerate(rows):
        key = (f.file_sha256, f.volume_mm3, s.material, s.tolerance_mm, s.finish,
               s.roughness_ra_um, s.due_date)  # fmt: skip
        groups.setdefault(key, []).append(i)
    for idx in groups.values():
        if len(idx) < 2:
            continue
        lowest = np.inf
        for i in sorted(idx, key=lambda j: rows[j][1].quantity):
            if a["price"][i] > lowest:
                factor = lowest / a["price"][i]
                for k in _PRICE_KEYS:
                    a[k][i] *= factor
                a["contributions"][i] *= factor
            lowest = min(lowest, a["price"][i])


# Column indices as arrays, converted once rather than on every prediction.
_PRICE_INDEX = np.asarray(featurize.PRICE_COLUMNS)
_LEAD_INDEX = np.asarray(featurize.LEAD_COLUMNS)
_DRIVER_INDEX = {d: i for i, d in enumerate(featurize.DRIVERS)}
# (len(PRICE_COLUMNS), len(DRIVERS)) 0/1 matrix: which driver each price feature's effect goes to.
_PRICE_DRIVER_MATRIX = np.zeros((len(featurize.PRICE_COLUMNS), len(featurize.DRIVERS)))
for _j, _col in enumerate(featurize.PRICE_COLUMNS):
    _PRICE_DRIVER_MATRIX[
        _j, _DRIVER_INDEX[featurize.FEATURE_DRIVERS[featurize.FEATURE_NAMES[_col]]]
    ] = 1


_PRIOR_DRIVER_MATRIX = np.zeros((len(featurize.PRIOR_PARTS), len(featurize.DRIVERS)))
for _k, _d in enumerate(featurize.PRIOR_PARTS.values()):
    _PRIOR_DRIVER_MATRIX[_k, _DRIVER_INDEX[_d]] = 1


def _rescaled_log_parts(log1p_parts: np.ndarray, log_total: np.ndarray) -> np.ndarray:
    """Physics parts (log1p) rescaled so they add up to exp(log_total); returned as log1p."""
    parts = np.expm1(log1p_parts)
    total = np.maximum(parts.sum(axis=1), 1e-9)
    scaled = parts * (np.exp(log_total) / total)[:, None]
    return np.log1p(scaled)
