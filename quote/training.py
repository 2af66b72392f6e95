"""Training the learned price and lead-time models: history CSVs, the default model, shop models.

- ``read_history_csv`` / ``read_requests_csv``: a shop's past quotes and a batch of requests, with
  bad rows reported by line number and the good ones kept.
- ``QuoteModel``: the artifact (price and lead-time estimators plus version, data hash, metrics).
  ``QuoteModel.predict`` turns (features, spec, physics) rows into ``ModelPrediction``s in one
  vectorised call: unit price, 80% and 90% intervals, lead time, and the price split by cost
  driver in JPY.
- ``train_default_model``: generated parts priced by the process-planning estimator, with a
  market spread around it (how much shops' rates differ), so a fresh install quotes at once.
- ``train_shop_model``: the default model (and through it the physics) is the prior; the shop's
  rows recalibrate it per cost driver and the trees correct what remains. Backtest by K-fold.
- ``save_model`` / ``load_model`` / ``model_to_bytes`` / ``model_from_bytes``: joblib artifacts
  with a format check; the platform stores the bytes in its database.

Units: JPY per piece, business days, mm.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
from sklearn.model_selection import GroupKFold

from quote import featurize
from quote.catalogs import (
    Catalog,
    check_finish_applies,
    load_catalog,
    resolve_finish,
    resolve_material,
    resolve_tolerance,
)
from quote.errors import (
    HistoryError,
    InsufficientHistory,
    InvalidQuantity,
    MitsumoriError,
    ModelIncompatible,
    ModelNotFound,
    UnreadablePart,
)
from quote.estimators import IntervalRegressor
from quote.types import DEFAULT_TOLERANCE, PartFeatures, PhysicsEstimate, QuoteSpec

if TYPE_CHECKING:
    from quote.analysis import PartAnalysis

Progress = Callable[[int, int, str], None]
Row = tuple[PartFeatures, QuoteSpec, PhysicsEstimate]

# 2: a shop model's prior parts carry their own scalings and extra charges (estimators._Base).
FORMAT_VERSION = 2
MIN_SHOP_ROWS = 50
REPO_ROOT = Path(__file__).resolve().parents[1]
HISTORY_COLUMNS = (
    "part_file",
    "material",
    "quantity",
    "tolerance",
    "finish",
    "unit_price",
    "lead_time_days",
)
REQUEST_COLUMNS = HISTORY_COLUMNS[:5]


def _noop(done: int, total: int, message: str) -> None:
    return None


# ============================================================================================
# CSV reading
# ============================================================================================


@dataclass(frozen=True)
class HistoryRow:
    """One good row of a shop's history.

    line: line number in the CSV (header = 1). part_file: absolute path. material / finish:
    catalog names. tolerance: as written (an ISO 2768 class or +-mm; resolved per part).
    unit_price: JPY per piece. lead_time_days: business days, or None when the shop left it
    empty (the row then trains the price model only).
    """

    line: int
    part_file: Path
    material: str
    quantity: int
    tolerance: str
    finish: str
    unit_price: float
    lead_time_days: float | None


@dataclass(frozen=True)
class HistoryRead:
    """rows: the good rows. errors: (line number, error code, message) of each skipped row."""

    rows: tuple[HistoryRow, ...]
    errors: tuple[tuple[int, str, str], ...]


@dataclass(frozen=True)
class RequestRow:
    """One row of a quote-batch request CSV, as typed (the engine resolves the names).

    error: the typed error that makes this row unquotable (missing file, bad quantity), or None.
    """

    line: int
    part_file: Path
    material: str
    quantity: int
    tolerance: str | None
    finish: str | None
    error: MitsumoriError | None = None


_NUMBER_JUNK = re.compile(r"[,\s¥円]|JPY|jpy|yen")


def _number(text: str) -> float | None:
    """A float from a cell like "12,000", "¥12000" or "12000 JPY"; None if not a finite number."""
    try:
        v = float(_NUMBER_JUNK.sub("", text))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _open_csv(path: str | Path, required: Sequence[str]) -> tuple[Path, list[tuple[int, dict]]]:
    """Read ``path``; return its folder and (line number, {column: cell}) per data row.

    Raises HistoryError when the file cannot be read or required columns are missing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise HistoryError(f"CSV file {path} not found.", detail={"path": str(path)}) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(
            f"CSV file {path} cannot be read as UTF-8 text: {exc}", detail={"path": str(path)}
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise HistoryError(
            f"CSV file {path} is empty; expected the header {','.join(required)}.",
            detail={"path": str(path)},
        ) from None
    except csv.Error as exc:
        raise HistoryError(f"CSV file {path} is malformed: {exc}") from exc
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise HistoryError(
            f"CSV file {path} lacks the column(s) {', '.join(missing)}; the header must "
            f"include {','.join(required)} (extra columns are ignored).",
            detail={"path": str(path), "missing": missing, "found": names},
        )
    index = {c: names.index(c) for c in required}
    out: list[tuple[int, dict]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank line
            row = {c: (cells[i].strip() if i < len(cells) else "") for c, i in index.items()}
            out.append((reader.line_num, row))
    except csv.Error as exc:
        raise HistoryError(
            f"CSV file {path} is malformed near line {reader.line_num}: {exc}"
        ) from exc
    return path.resolve().parent, out


def _part_path(folder: Path, cell: str) -> Path:
    p = Path(cell).expanduser()
    return (p if p.is_absolute() else folder / p).resolve()


def _quantity(cell: str) -> int | None:
    v = _number(cell)
    if v is None or v != int(v) or v < 1:
        return None
    return int(v)


def read_history_csv(path: str | Path, catalog: Catalog | None = None) -> HistoryRead:
    """Read a shop's history CSV.

    Header (any order, any case, extra columns ignored):
    ``part_file,material,quantity,tolerance,finish,unit_price,lead_time_days``. ``part_file`` is
    absolute or relative to the CSV's folder; ``unit_price`` JPY per piece; ``lead_time_days``
    business days (may be empty); empty tolerance means ISO2768-m, empty finish means none.

    Returns
    -------
    HistoryRead
        The good rows, and (line number, code, message) for each skipped row.

    Raises
    ------
    HistoryError
        The file is missing, unreadable, empty, or lacks required columns (they are listed).
    """
    catalog = catalog or load_catalog()
    folder, raw = _open_csv(path, HISTORY_COLUMNS)
    rows: list[HistoryRow] = []
    errors: list[tuple[int, str, str]] = []
    for line, r in raw:

        def bad(code: str, message: str, _line: int = line) -> None:
            errors.append((_line, code, message))

        if not r["part_file"]:
            bad("missing_part_file", "part_file is empty")
            continue
        part = _part_path(folder, r["part_file"])
        if not part.is_file():
            bad("part_not_found", f"part file {r['part_file']!r} not found ({part})")
            continue
        try:
            material = resolve_material(catalog, r["material"])
            finish = resolve_finish(catalog, r["finish"] or "none")
            check_finish_applies(catalog, material, finish)
            tolerance = r["tolerance"] or DEFAULT_TOLERANCE
            resolve_tolerance(catalog, tolerance, 100.0)  # syntax check; mm resolved per part
        except MitsumoriError as exc:
            bad(exc.code, exc.message)
            continue
        quantity = _quantity(r["quantity"])
        if quantity is None:
            bad("invalid_quantity", f"quantity {r['quantity']!r} is not a whole number >= 1")
            continue
        price = _number(r["unit_price"])
        if price is None or price <= 0:
            bad("invalid_price", f"unit_price {r['unit_price']!r} is not a positive number (JPY)")
            continue
        lead: float | None = None
        if r["lead_time_days"]:
            lead = _number(r["lead_time_days"])
            if lead is None or lead <= 0:
                bad(
                    "invalid_lead_time",
                    f"lead_time_days {r['lead_time_days']!r} is not a positive number of days",
                )
                continue
        rows.append(
            HistoryRow(line, part, material.name, quantity, tolerance, finish.name, price, lead)
        )
    return HistoryRead(tuple(rows), tuple(errors))


def read_requests_csv(path: str | Path) -> list[RequestRow]:
    """Read a quote-batch CSV (``part_file,material,quantity,tolerance,finish``).

    Every data row comes back in order; a row with a missing part file or a bad quantity carries
    its typed error (names are left to the engine, which lists the accepted ones).

    Raises
    ------
    HistoryError
        The file is missing, unreadable, empty, or lacks required columns.
    """
    folder, raw = _open_csv(path, REQUEST_COLUMNS)
    out = []
    for line, r in raw:
        part = _part_path(folder, r["part_file"]) if r["part_file"] else folder
        error: MitsumoriError | None = None
        quantity = _quantity(r["quantity"])
        if not r["part_file"] or not part.is_file():
            error = UnreadablePart(
                f"line {line}: part file {r['part_file']!r} not found",
                detail={"line": line, "part_file": r["part_file"]},
            )
        elif quantity is None:
            error = InvalidQuantity(
                f"line {line}: quantity {r['quantity']!r} is not a whole number >= 1",
                detail={"line": line, "quantity": r["quantity"]},
            )
        out.append(
            RequestRow(
                line=line,
                part_file=part,
                material=r["material"],
                quantity=quantity or 1,
                tolerance=r["tolerance"] or None,
                finish=r["finish"] or None,
                error=error,
            )
        )
    return out


# ============================================================================================
# The model artifact
# ============================================================================================


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
            return self.base._lead_log(X)  # type: ignore[union-attr]
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


# ============================================================================================
# Fitting
# ============================================================================================

# Market spread of the default history (an assumption, documented in data/README.md): shops'
# rates differ per cost driver (sigma 0.2 in log, e.g. one shop's machine rate 20% above another's)
# and per quote (sigma 0.06); lead times differ by sigma 0.15 and are quoted in whole days.
MARKET_DRIVER_SIGMA = 0.2
MARKET_QUOTE_SIGMA = 0.06
MARKET_LEAD_SIGMA = 0.15


def default_price_estimator(random_state: int = 0) -> IntervalRegressor:
    """The default model's price estimator: thousands of rows, so deeper trees and more of them."""
    return IntervalRegressor(
        n_estimators=400,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        reg_lambda=1.0,
        colsample_bytree=0.8,
        monotone_constraints=featurize.price_monotone_constraints(),
        prior_columns=featurize.PRICE_PRIOR,
        calibrate_prior=True,
        prior_ridge=1.0,
        cv=5,
        random_state=random_state,
    )


def default_lead_estimator(random_state: int = 0) -> IntervalRegressor:
    """The default model's lead-time estimator (prior: the physics lead-time parts)."""
    return IntervalRegressor(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=20,
        colsample_bytree=0.8,
        prior_columns=featurize.LEAD_PRIOR,
        calibrate_prior=True,
        prior_ridge=1.0,
        cv=5,
        random_state=random_state,
    )


def shop_price_estimator(random_state: int = 0) -> IntervalRegressor:
    """A shop's price estimator for 50-500 rows: the prior recalibrated per cost part, each
    part with its own power of quantity, tolerance and size, plus a charge per lot and one per
    piece, fitted together with a ridge log-linear step for smooth trends; then small shrunk
    trees whose number is chosen by cross-validation (none are kept when they do not help).

    The settings were chosen on the development shops of bench/dev_shops.py (pricing forms
    unlike bench/accuracy.py's Shop K), at 60, 100 and 200 rows.
    """
    return IntervalRegressor(
        n_estimators=600,
        learning_rate=0.03,
        num_leaves=7,
        min_child_samples=10,
        reg_lambda=5.0,
        colsample_bytree=0.8,
        monotone_constraints=featurize.price_monotone_constraints(),
        prior_columns=featurize.PRICE_PRIOR,
        calibrate_prior=True,
        prior_ridge=0.1,
        linear_columns=featurize.PRICE_LINEAR,
        linear_alpha=0.2,
        prior_scaling_columns=featurize.PRICE_SCALING,
        scaling_ridge=0.2,
        extra_charges=featurize.PRICE_EXTRA_CHARGES,
        cv=5,
        random_state=random_state,
    )


def shop_lead_estimator(random_state: int = 0) -> IntervalRegressor:
    """A shop's lead-time estimator (prior: the default model's lead time split like the
    physics lead-time parts), built like the price estimator (without extra charges)."""
    return IntervalRegressor(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=7,
        min_child_samples=10,
        reg_lambda=5.0,
        colsample_bytree=0.8,
        prior_columns=featurize.LEAD_PRIOR,
        calibrate_prior=True,
        prior_ridge=0.1,
        linear_columns=featurize.LEAD_LINEAR,
        linear_alpha=0.05,
        prior_scaling_columns=featurize.LEAD_SCALING,
        scaling_ridge=0.2,
        cv=5,
        random_state=random_state,
    )


def _data_hash(rows: Sequence[Row], prices: np.ndarray, leads: np.ndarray) -> str:
    h = hashlib.sha256()
    for (f, s, _), p, lt in zip(rows, prices, leads, strict=True):
        h.update(
            f"{f.file_sha256}|{s.material}|{s.quantity}|{s.tolerance_mm:.6g}|{s.finish}|"
            f"{s.roughness_ra_um:g}|{p:.6g}|{lt:.6g}\n".encode()
        )
    return h.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _fit(
    X: np.ndarray,
    price: np.ndarray,
    lead: np.ndarray,
    *,
    base: QuoteModel | None,
    price_est: IntervalRegressor,
    lead_est: IntervalRegressor | None,
    meta: dict[str, Any],
) -> QuoteModel:
    """Fit the price estimator (and the lead estimator on the rows with a lead time) on the
    model inputs of ``X``; ``lead`` is NaN where unknown. Without a lead estimator the base
    model's lead time is used."""
    if lead_est is None and base is None:
        raise ValueError("a model without a base needs a lead-time estimator")
    model = QuoteModel(price_model=price_est, lead_model=lead_est, base=base, **meta)
    price_est.fit(model._price_inputs(X), np.log(price))
    if lead_est is not None:
        known = np.isfinite(lead)
        lead_est.fit(model._lead_inputs(X[known]), np.log(lead[known]))
    return model


def _backtest(
    X: np.ndarray,
    price: np.ndarray,
    lead: np.ndarray,
    groups: np.ndarray,
    *,
    base: QuoteModel | None,
    make_price: Callable[[], IntervalRegressor],
    make_lead: Callable[[], IntervalRegressor],
    min_lead_rows: int,
    n_splits: int,
    progress: Progress,
    step: tuple[int, int],
) -> dict[str, float]:
    """K-fold backtest grouped by part: every row is predicted by a model that never saw its
    part; returns the pooled figures of ``_score``."""
    n = len(price)
    keys = ("price", "price_lo80", "price_hi80", "price_lo90", "price_hi90", "lead", "lead_lo90",
            "lead_hi90")  # fmt: skip
    pooled = {c: np.empty(n) for c in keys}
    n_splits = min(n_splits, len(np.unique(groups)))
    done, total = step
    for k, (tr, te) in enumerate(GroupKFold(n_splits).split(X, price, groups)):
        progress(done + k, total, f"Backtest fold {k + 1} of {n_splits}")
        enough = int(np.isfinite(lead[tr]).sum()) >= min_lead_rows
        m = _fit(
            X[tr],
            price[tr],
            lead[tr],
            base=base,
            price_est=make_price(),
            lead_est=make_lead() if enough or base is None else None,
            meta=_meta("backtest", None, "backtest", 0, "", {}),
        )
        a = m.predict_arrays(X[te])
        for c in keys:
            pooled[c][te] = a[c]
    out = _figures(pooled, price, lead)
    out["backtest_folds"] = n_splits
    return out


def _figures(a: dict[str, np.ndarray], price: np.ndarray, lead: np.ndarray) -> dict[str, float]:
    """MAPE, median APE and interval coverage of prices; MAE and 90% coverage of lead times
    (rows whose lead is NaN are left out of the lead figures)."""
    ape = np.abs(a["price"] - price) / price
    out: dict[str, float] = {
        "price_mape": float(np.mean(ape)),
        "price_median_ape": float(np.median(ape)),
        "price_coverage_80": float(
            np.mean((price >= a["price_lo80"]) & (price <= a["price_hi80"]))
        ),
        "price_coverage_90": float(
            np.mean((price >= a["price_lo90"]) & (price <= a["price_hi90"]))
        ),
    }
    known = np.isfinite(lead)
    if known.any():
        lk = lead[known]
        out["lead_mae_days"] = float(np.mean(np.abs(a["lead"][known] - lk)))
        out["lead_coverage_90"] = float(
            np.mean((lk >= a["lead_lo90"][known]) & (lk <= a["lead_hi90"][known]))
        )
    return out


def _meta(
    name: str,
    shop: str | None,
    version: str,
    trained_rows: int,
    data_sha256: str,
    metrics: dict[str, Any],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "shop": shop,
        "created_at": _now().isoformat(),
        "trained_rows": trained_rows,
        "data_sha256": data_sha256,
        "metrics": metrics,
        "notes": notes,
    }


# ============================================================================================
# The default model
# ============================================================================================


def default_model_path() -> Path:
    """Where `make run` writes the default model: <repo>/data/models/default.joblib."""
    return REPO_ROOT / "data" / "models" / "default.joblib"


def market_prices(rows: Sequence[Row], random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit prices (JPY) and lead times (business days) a market of shops would quote.

    Each physics breakdown term is scaled by its own lognormal factor (sigma
    ``MARKET_DRIVER_SIGMA``: shops' machine rates, material markups, inspection habits differ),
    then the quote by a common one (``MARKET_QUOTE_SIGMA``); lead times by
    ``MARKET_LEAD_SIGMA``, rounded to whole days, at least 1. These spreads are assumptions: the
    default model is the physics plus an honest statement of how far a real shop may be from it.
    """
    rng = np.random.default_rng([random_state, 104729])
    n = len(rows)
    terms = np.array([featurize.prior_parts(p) for _, _, p in rows]).reshape(
        n, len(featurize.PRIOR_PARTS)
    )
    terms = np.maximum(terms, 0.0)
    factors = np.exp(rng.normal(0.0, MARKET_DRIVER_SIGMA, terms.shape))
    price = (terms * factors).sum(axis=1) * np.exp(rng.normal(0.0, MARKET_QUOTE_SIGMA, n))
    physics = np.array([p.unit_price for _, _, p in rows])
    price = np.where(price > 0, price, np.maximum(physics, 1.0))
    days = np.array([p.lead_time_days for _, _, p in rows])
    lead = np.maximum(1.0, np.round(days * np.exp(rng.normal(0.0, MARKET_LEAD_SIGMA, n))))
    return price, lead


def train_default_model(
    n_parts: int = 200,
    random_state: int = 0,
    catalog: Catalog | None = None,
    *,
    specs_per_part: int = 12,
    progress: Progress | None = None,
) -> QuoteModel:
    """Train the default model on a generated corpus priced by the physics with a market spread.

    Parameters
    ----------
    n_parts
        Generated parts (corpus.generate_corpus); each gets ``specs_per_part`` random specs.
    random_state
        Seed of the corpus, the specs, the market spread and the estimators.
    catalog
        Catalogs (default ``load_catalog()``).
    progress
        ``progress(done, total, message)`` callback.

    Returns
    -------
    QuoteModel
        ``metrics`` from a 5-fold backtest grouped by part.
    """
    from quote import corpus

    catalog = catalog or load_catalog()
    report = progress or _noop
    total = n_parts + 8
    meshes = corpus.generate_corpus(n_parts, random_state)
    parts = corpus.corpus_features(meshes, catalog, progress=lambda d, t, m: report(d, total, m))
    report(n_parts, total, "Pricing the synthetic history")
    history = corpus.physics_history(parts, specs_per_part, random_state, catalog)
    rows: list[Row] = [(h.features, h.spec, h.physics) for h in history]
    price, lead = market_prices(rows, random_state)
    X = featurize.build_matrix(rows, catalog)
    groups = np.unique([h.part for h in history], return_inverse=True)[1]
    metrics: dict[str, Any] = _backtest(
        X,
        price,
        lead,
        groups,
        base=None,
        make_price=lambda: default_price_estimator(random_state),
        make_lead=lambda: default_lead_estimator(random_state),
        min_lead_rows=1,
        n_splits=5,
        progress=report,
        step=(n_parts + 1, total),
    )
    report(n_parts + 6, total, "Fitting the default model")
    digest = _data_hash(rows, price, lead)
    created = _now()
    metrics.update(
        rows=len(rows),
        parts=n_parts,
        method="physics prior + LightGBM correction, conformal intervals (5-fold)",
        target="physics with market spread (synthetic)",
    )
    model = _fit(
        X,
        price,
        lead,
        base=None,
        price_est=default_price_estimator(random_state),
        lead_est=default_lead_estimator(random_state),
        meta=_meta(
            "default",
            None,
            f"default-{created:%Y%m%d}-{digest[:8]}",
            len(rows),
            digest,
            metrics,
        ),
    )
    report(total, total, "Default model ready")
    return model


# ============================================================================================
# Shop models
# ============================================================================================


def _history_rows(
    rows: Sequence[HistoryRow],
    catalog: Catalog,
    report: Progress,
    total: int,
    analyses: Mapping[Path, PartAnalysis] | None = None,
) -> tuple[list[Row], list[HistoryRow], list[str]]:
    """Analyse each distinct part file once and price each history row with the physics.

    ``analyses`` holds analyses already made (the platform stores one per uploaded part), so
    those files are not parsed again. Returns the usable (features, spec, physics) rows, their
    history rows, and notes on the rows skipped (unreadable file, several bodies, a spec the
    catalog refuses).
    """
    from quote.analysis import analyze_part
    from quote.costing import estimate

    files = sorted({r.part_file for r in rows})
    analysed: dict[Path, PartFeatures | str] = {}
    for i, path in enumerate(files):
        report(i, total, f"Reading {path.name}")
        try:
            known = analyses.get(path) if analyses else None
            analysis = known if known is not None else analyze_part(path, catalog=catalog)
        except MitsumoriError as exc:
            analysed[path] = f"{exc.code}: {exc.message}"
            continue
        if len(analysis.items) != 1:
            analysed[path] = (
                f"multi_body: {len(analysis.items)} separate bodies; a history price must be for "
                "one part"
            )
            continue
        analysed[path] = analysis.items[0].features
    out: list[Row] = []
    kept: list[HistoryRow] = []
    notes: list[str] = []
    for r in rows:
        feats = analysed[r.part_file]
        if isinstance(feats, str):
            notes.append(f"line {r.line}: skipped, {r.part_file.name}: {feats}")
            continue
        try:
            tol = resolve_tolerance(catalog, r.tolerance, feats.max_extent_mm)
            spec = QuoteSpec(
                material=r.material,
                quantity=r.quantity,
                tolerance_label=tol.label,
                tolerance_mm=tol.mm,
                finish=r.finish,
            )
            phys = estimate(feats, spec, catalog)
        except MitsumoriError as exc:
            notes.append(f"line {r.line}: skipped, {exc.code}: {exc.message}")
            continue
        out.append((feats, spec, phys))
        kept.append(r)
    return out, kept, notes


def train_shop_model(
    rows: Sequence[HistoryRow],
    *,
    shop: str,
    base: QuoteModel,
    catalog: Catalog | None = None,
    random_state: int = 0,
    progress: Progress | None = None,
    analyses: Mapping[Path, PartAnalysis] | None = None,
) -> QuoteModel:
    """Train a shop's model from its history, with ``base`` (the default model) as the prior.

    ``analyses`` (optional) maps part-file paths to analyses already made, to skip re-parsing.

    The price model recalibrates the base's price per cost driver (material, setup, ...,
    margin) on the shop's rows, each driver with its own power of quantity, tolerance and size,
    adds the shop's charges per lot and per piece, then small shrunk trees correct what
    remains; intervals come from the shop's own out-of-fold errors. ``metrics`` holds a 5-fold
    backtest grouped by part file. Rows without a lead time train the price only; with fewer
    than ``MIN_SHOP_ROWS`` lead times the base model's lead time is kept.

    Raises
    ------
    InsufficientHistory
        Fewer than ``MIN_SHOP_ROWS`` (50) usable rows (after unreadable parts are skipped).
    """
    catalog = catalog or load_catalog()
    report = progress or _noop
    if len(rows) < MIN_SHOP_ROWS:
        raise InsufficientHistory(
            f"{len(rows)} good history rows; a shop model needs at least {MIN_SHOP_ROWS} "
            "(more is better). Add past quotes to the CSV.",
            detail={"rows": len(rows), "minimum": MIN_SHOP_ROWS},
        )
    n_files = len({r.part_file for r in rows})
    total = n_files + 7
    triples, kept, notes = _history_rows(rows, catalog, report, total, analyses)
    if len(triples) < MIN_SHOP_ROWS:
        raise InsufficientHistory(
            f"only {len(triples)} history rows have a readable part and a valid spec; a shop "
            f"model needs at least {MIN_SHOP_ROWS}. " + "; ".join(notes[:5]),
            detail={"rows": len(triples), "minimum": MIN_SHOP_ROWS, "skipped": notes},
        )
    price = np.array([r.unit_price for r in kept])
    lead = np.array([np.nan if r.lead_time_days is None else r.lead_time_days for r in kept])
    X = featurize.build_matrix(triples, catalog)
    groups = np.unique([str(r.part_file) for r in kept], return_inverse=True)[1]
    n_lead = int(np.isfinite(lead).sum())
    metrics: dict[str, Any] = _backtest(
        X,
        price,
        lead,
        groups,
        base=base,
        make_price=lambda: shop_price_estimator(random_state),
        make_lead=lambda: shop_lead_estimator(random_state),
        min_lead_rows=int(0.8 * MIN_SHOP_ROWS),
        n_splits=5,
        progress=report,
        step=(n_files, total),
    )
    # The same figures for the base model on the same rows: what training bought.
    base_fig = _figures(base.predict_arrays(X), price, lead)
    metrics.update({f"base_{k}": v for k, v in base_fig.items()})
    report(n_files + 5, total, "Fitting the shop model")
    digest = _data_hash(triples, price, np.nan_to_num(lead, nan=-1.0))
    created = _now()
    metrics.update(
        rows=len(triples),
        rows_with_lead_time=n_lead,
        method="base model prior recalibrated and scaled per cost driver, charges per lot and "
        "piece, + LightGBM correction, conformal",
    )
    model = _fit(
        X,
        price,
        lead,
        base=base,
        price_est=shop_price_estimator(random_state),
        lead_est=shop_lead_estimator(random_state) if n_lead >= MIN_SHOP_ROWS else None,
        meta=_meta(
            shop,
            shop,
            f"shop-{shop}-{created:%Y%m%d}-{digest[:8]}",
            len(triples),
            digest,
            metrics,
            notes,
        ),
    )
    report(total, total, f"Model for {shop} ready")
    return model


# ============================================================================================
# Saving and loading
# ============================================================================================


def model_to_bytes(model: QuoteModel) -> bytes:
    """Serialise a model (joblib, compressed) for storage in a database."""
    buf = io.BytesIO()
    joblib.dump({"format_version": FORMAT_VERSION, "model": model}, buf, compress=3)
    return buf.getvalue()


def _check_payload(payload: Any, where: str) -> QuoteModel:
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), QuoteModel):
        raise ModelIncompatible(
            f"{where} is not a Mitsumori model; rebuild it (`make run` for the default model, "
            "`mitsumori train` for a shop model).",
            detail={"where": where},
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelIncompatible(
            f"{where} has model format {version}, this version reads {FORMAT_VERSION}; retrain "
            "it (`make run` for the default model, `mitsumori train` for a shop model).",
            detail={"where": where, "format_version": version, "expected": FORMAT_VERSION},
        )
    model: QuoteModel = payload["model"]
    if tuple(model.feature_names) != featurize.FEATURE_NAMES:
        raise ModelIncompatible(
            f"{where} was trained on other features than this version computes; retrain it.",
            detail={"where": where},
        )
    return model


def model_from_bytes(data: bytes) -> QuoteModel:
    """Inverse of ``model_to_bytes``; ModelIncompatible for corrupt or foreign bytes."""
    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as exc:  # corrupt pickles raise anything (EOFError, UnpicklingError, ...)
        raise ModelIncompatible(
            f"stored model bytes cannot be read ({type(exc).__name__}); retrain the model.",
        ) from exc
    return _check_payload(payload, "stored model")


def save_model(model: QuoteModel, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (folders created; written to a temporary file, then renamed,
    so a reader never sees half a model)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(model_to_bytes(model))
    tmp.replace(path)
    return path


def load_model(path: str | Path) -> QuoteModel:
    """Read a model written by ``save_model``.

    Raises
    ------
    ModelNotFound
        No file at ``path``.
    ModelIncompatible
        The file is corrupt, not a model, or from an incompatible version.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelNotFound(f"no model file at {path}", detail={"path": str(path)}) from exc
    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as exc:  # corrupt pickles raise anything (EOFError, UnpicklingError, ...)
        raise ModelIncompatible(
            f"{path} is not a readable model ({type(exc).__name__}); rebuild it (`make run` for "
            "the default model, `mitsumori train` for a shop model).",
            detail={"path": str(path)},
        ) from exc
    return _check_payload(payload, str(path))


def load_default_model(path: str | Path | None = None) -> QuoteModel:
    """The default model (``default_model_path()`` unless ``path``).

    Raises
    ------
    ModelNotFound
        It has not been built yet: the message says to run `make run` (or
        `mitsumori model build-default`).
    """
    target = Path(path) if path is not None else default_model_path()
    if not target.exists():
        raise ModelNotFound(
            f"the default pricing model {target} has not been built yet: run `make run` "
            "(or `mitsumori model build-default`) once; it takes about a minute.",
            detail={"path": str(target)},
        )
    return load_model(target)
