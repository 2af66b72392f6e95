"""Training the learned price and lead-time models: the default model and shop models.

- ``train_default_model``: generated parts priced by the process-planning estimator, with a
  market spread around it (how much shops' rates differ), so a fresh install quotes at once.
- ``train_shop_model``: the default model (and through it the physics) is the prior; the shop's
  rows recalibrate it per cost driver and the trees correct what remains. Backtest by K-fold.

The rows come from ``quote.history``; the artifact is ``quote.artifact.QuoteModel``; saving and
loading is ``quote.persistence``.

Units: JPY per piece, business days, mm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import GroupKFold

from quote import featurize

# QuoteModel is re-exported here on purpose: models pickled before the artifact moved to
# quote.artifact name it quote.training.QuoteModel (tests/quote/test_persistence.py).
from quote.artifact import QuoteModel, Row
from quote.catalogs import Catalog, load_catalog, resolve_tolerance
from quote.errors import InsufficientHistory, MitsumoriError
from quote.estimators import IntervalRegressor
from quote.history import HistoryRow
from quote.types import PartFeatures, QuoteSpec

if TYPE_CHECKING:
    from quote.analysis import PartAnalysis

__all__ = ["MIN_SHOP_ROWS", "QuoteModel", "train_default_model", "train_shop_model"]

Progress = Callable[[int, int, str], None]

MIN_SHOP_ROWS = 50


def _noop(done: int, total: int, message: str) -> None:
    return None


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
