"""What ``IntervalRegressor`` fits before its trees: the calibrated prior and the log-linear step.

``fit_prior_weights`` calibrates the prior parts alone and ``fit_linear_step`` then fits the
log-linear step on what they leave; ``fit_scaled_prior`` fits the parts' weights, their own
scalings, the extra charges and the log-linear step together. ``BaseStages`` is what a fitted
regressor keeps of them and evaluates before its trees. The model is described in
``quote.estimators``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, lsq_linear

# exp() arguments are clipped here: terms come from logs of JPY or days, so |x| > 60 is garbage.
_EXP_CLIP = 60.0


def fit_prior_weights(
    X: np.ndarray, y: np.ndarray, columns: Sequence[int], ridge: float
) -> np.ndarray:
    """Non-negative weights of the prior parts, fitted on relative errors.

    Minimises ``sum_i (sum_k w_k e^{x_ik} / e^{y_i} - 1)^2 + ridge * sum_k (w_k - s)^2`` over
    ``w >= 0`` and a free common scale ``s >= 0``: the overall price level is left to the data
    (a shop 40% dearer than the prior is not a reason to shrink), while parts the data cannot
    tell apart are pulled toward the same factor. Relative errors so that cheap and expensive
    parts count alike, as in MAPE.
    """
    k = len(columns)
    A = np.exp(np.clip(X[:, list(columns)] - y[:, None], -_EXP_CLIP, _EXP_CLIP))
    A = np.hstack([A, np.zeros((len(y), 1))])  # last unknown: the common scale s
    b = np.ones(len(y))
    if ridge > 0:
        pull = np.hstack([np.eye(k), -np.ones((k, 1))]) * np.sqrt(ridge)
        A = np.vstack([A, pull])
        b = np.concatenate([b, np.zeros(k)])
    else:
        A[:, -1] = 0.0
    res = lsq_linear(A, b, bounds=(0.0, np.inf), method="bvls")
    return np.asarray(res.x[:k], dtype=float)


def _standardised(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(Zs, mean, scale)``: columns centred and scaled to unit variance (constant ones: 1)."""
    mean, scale = Z.mean(axis=0), Z.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (Z - mean) / scale, mean, scale


def fit_linear_step(
    X: np.ndarray, residual: np.ndarray, linear: Sequence[int], sign: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """The log-linear step fitted alone on the log residual of the prior: its coefficients per
    unit of each column (m,) and the column means (m,).

    Ridge ``alpha`` per row on standardised columns (the mean residual is left to the trees'
    bias). A coefficient whose sign breaks ``sign`` (+1: >= 0, -1: <= 0, 0: free) is dropped
    and the rest refitted.
    """
    Zs, mean, scale = _standardised(X[:, list(linear)])
    r = residual - residual.mean()
    active = np.ones(len(linear), dtype=bool)
    coef_s = np.zeros(len(linear))
    for _ in range(len(linear)):
        Za = Zs[:, active]
        A = Za.T @ Za + alpha * len(r) * np.eye(int(active.sum()))
        coef_s = np.zeros(len(linear))
        coef_s[active] = np.linalg.solve(A, Za.T @ r)
        wrong = active & (sign * coef_s < 0)
        if not wrong.any():
            break
        active &= ~wrong
        coef_s[~active] = 0.0
    return coef_s / scale, mean


@dataclass(frozen=True)
class ScaledPrior:
    """What ``fit_scaled_prior`` fits: weights of the prior parts (k,), of the extra charges
    (2,) or (0,), the parts' scalings per unit of each scaling column (k or k + 2, j) and the
    means they are centred on (j,), the log-linear step's coefficients per unit (m,) and
    means (m,) (None without linear columns), and the ranges (2, j) and (2, m) of the scaling
    and linear columns in the training rows."""

    weights: np.ndarray
    extra_weights: np.ndarray
    scaling_coef: np.ndarray
    scaling_mean: np.ndarray
    coef: np.ndarray | None
    mean: np.ndarray | None
    scaling_range: np.ndarray
    linear_range: np.ndarray


def fit_scaled_prior(
    X: np.ndarray,
    y: np.ndarray,
    prior: Sequence[int],
    scaling: Sequence[int],
    quantity: int | None,
    linear: Sequence[int],
    linear_sign: np.ndarray,
    prior_ridge: float,
    scaling_ridge: float,
    linear_alpha: float,
) -> ScaledPrior:
    """Prior weights, the parts' own scalings, extra charges and the log-linear step, fitted
    together on the log error.

    The model is ``log(sum_k w_k exp(x_k + b_k . zs)) + g . us``, with ``zs`` the standardised
    scaling columns and ``us`` the standardised linear columns; with ``quantity`` (a column
    holding log quantity) two parts without a prior column are added, a charge per lot spread
    over its pieces (``x = -log q``) and a charge per piece (``x = 0``), scaled like the others.
    It minimises the squared log error plus ``prior_ridge * sum_k (log w_k - c)^2 +
    scaling_ridge * |b|^2 + n * linear_alpha * |g|^2`` over a free common log scale ``c``: as
    in ``fit_prior_weights`` the price level is left to the data and parts the data cannot tell
    apart are pulled toward one factor; the scalings and the common trend are shrunk toward
    zero (the scalings' penalty does not grow with the rows: a long history can afford them, a
    short one is held near none); the extra charges are free. Fitting these together matters:
    a shop's quantity discount on machining alone is otherwise half absorbed by the part
    weights and half by a common trend that then misprices material-heavy parts.

    Weights are fitted as logs, so they stay positive; ``g`` respects ``linear_sign`` (+1:
    >= 0, -1: <= 0). Trust-region least squares with the exact Jacobian, about 20 ms for 200
    rows and 10 parts.
    """
    n = len(y)
    L = np.clip(X[:, list(prior)], -_EXP_CLIP, _EXP_CLIP)
    k = L.shape[1]
    level = float(np.mean(y - np.log(np.exp(L).sum(axis=1))))
    start = [np.full(k, level)]
    if quantity is not None:
        log_q = np.clip(X[:, quantity], -_EXP_CLIP, _EXP_CLIP)
        L = np.column_stack([L, -log_q, np.zeros(n)])
        # Each extra charge starts at 5% of a typical price (of a typical lot for the lot's).
        start.append(np.log(0.05) + float(np.median(y)) + np.array([np.median(log_q), 0.0]))
    kk = L.shape[1]
    Zs, z_mean, z_scale = _standardised(X[:, list(scaling)])
    Us, u_mean, u_scale = _standardised(X[:, list(linear)])
    j, m = Zs.shape[1], Us.shape[1]
    # Unknowns: log weights (kk: the k parts, then the extra charges), the common log scale c,
    # the scalings (kk * j) and the linear step (m). Penalty rows: k, then kk * j + m.
    n_par = kk + 1 + kk * j + m
    ridge = np.zeros((k + kk * j + m, n_par))
    ridge[:k, :k] = np.sqrt(prior_ridge) * np.eye(k)
    ridge[:k, kk] = -np.sqrt(prior_ridge)
    ridge[k:, kk + 1 :] = np.diag(
        np.r_[np.full(kk * j, np.sqrt(scaling_ridge)), np.full(m, np.sqrt(n * linear_alpha))]
    )
    at_b = slice(kk + 1, kk + 1 + kk * j)
    at_g = slice(kk + 1 + kk * j, n_par)

    def shares_and_pred(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = L + theta[:kk] + Zs @ theta[at_b].reshape(kk, j).T
        top = a.max(axis=1, keepdims=True)  # log-sum-exp without overflow
        e = np.exp(a - top)
        total = e.sum(axis=1, keepdims=True)
        return e / total, top[:, 0] + np.log(total[:, 0]) + Us @ theta[at_g]

    def residuals(theta: np.ndarray) -> np.ndarray:
        return np.concatenate([shares_and_pred(theta)[1] - y, ridge @ theta])

    def jacobian(theta: np.ndarray) -> np.ndarray:
        S = shares_and_pred(theta)[0]  # d pred / d log w_k is part k's share of the total
        scaled = (S[:, :, None] * Zs[:, None, :]).reshape(n, kk * j)
        return np.vstack([np.hstack([S, np.zeros((n, 1)), scaled, Us]), ridge])

    theta0 = np.concatenate([*start, [level], np.zeros(kk * j + m)])
    lo, hi = np.full(n_par, -np.inf), np.full(n_par, np.inf)
    lo[at_g] = np.where(linear_sign > 0, 0.0, -np.inf)
    hi[at_g] = np.where(linear_sign < 0, 0.0, np.inf)
    # ftol 1e-6: the last steps along flat directions (a small charge against a part that
    # looks alike) take hundreds of evaluations and move predictions by < 0.5%.
    theta = least_squares(
        residuals, theta0, jac=jacobian, bounds=(lo, hi), method="trf", x_scale="jac", ftol=1e-6
    ).x
    return ScaledPrior(
        weights=np.exp(theta[:k]),
        extra_weights=np.exp(theta[k:kk]),
        scaling_coef=theta[at_b].reshape(kk, j) / z_scale[None, :],
        scaling_mean=z_mean,
        coef=theta[at_g] / u_scale if m else None,
        mean=u_mean if m else None,
        scaling_range=_column_range(X, scaling),
        linear_range=_column_range(X, linear),
    )


def _column_range(X: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """Smallest and largest value of each column, shape (2, len(columns))."""
    Z = X[:, list(columns)]
    if len(Z) == 0:
        return np.zeros((2, Z.shape[1]))
    return np.vstack([Z.min(axis=0), Z.max(axis=0)])


@dataclass(frozen=True)
class BaseStages:
    """The fitted stages before the trees: calibrated prior (or constant offset), optionally
    with the parts' own scalings and the extra charges (``fit_scaled_prior``), and the
    optional log-linear step ``coef . (x - mean)``."""

    prior: tuple[int, ...] | None
    weights: np.ndarray | None
    offset: float
    linear: tuple[int, ...]
    coef: np.ndarray | None
    mean: np.ndarray | None
    scaling: tuple[int, ...] = ()
    scaling_coef: np.ndarray | None = None  # (len(prior) [+ 2 with extra charges], len(scaling))
    scaling_mean: np.ndarray | None = None
    extra: tuple[int, int, int] | None = None  # (quantity column, lot part, piece part)
    extra_weights: np.ndarray | None = None  # (2,): charge per lot, charge per piece
    # Ranges (2, n) of the scaling and linear columns in the training rows. Outside them the
    # scalings and the linear step are held at the edge: a power of quantity fitted on 1-500
    # pieces says nothing about 20,000, where the prior parts' own shapes are trusted instead.
    scaling_range: np.ndarray | None = None
    linear_range: np.ndarray | None = None

    def parts(self, X: np.ndarray) -> np.ndarray:
        """Calibrated prior parts, shape (n_samples, len(prior)), in units of ``exp(y)``; the
        extra charges are added to the parts they are reported under. Needs prior columns."""
        assert self.prior is not None and self.weights is not None
        logs = np.clip(X[:, list(self.prior)], -_EXP_CLIP, _EXP_CLIP)
        weights = self.weights
        if self.extra is not None and self.extra_weights is not None:
            log_q = np.clip(X[:, self.extra[0]], -_EXP_CLIP, _EXP_CLIP)
            logs = np.column_stack([logs, -log_q, np.zeros(len(X))])
            weights = np.concatenate([weights, self.extra_weights])
        if self.scaling_coef is not None and self.scaling_mean is not None:
            Z = X[:, list(self.scaling)]
            if self.scaling_range is not None:
                Z = np.clip(Z, self.scaling_range[0], self.scaling_range[1])
            logs = logs + (Z - self.scaling_mean) @ self.scaling_coef.T
        out = weights[None, :] * np.exp(np.clip(logs, -_EXP_CLIP, _EXP_CLIP))
        if self.extra is not None and self.extra_weights is not None:
            k = len(self.prior)
            out[:, self.extra[1]] += out[:, k]
            out[:, self.extra[2]] += out[:, k + 1]
            out = out[:, :k]
        return out

    def log_prior(self, X: np.ndarray) -> np.ndarray:
        if self.prior is None or self.weights is None:
            return np.full(X.shape[0], self.offset)
        total = self.parts(X).sum(axis=1)
        # A prior of zero (all weights driven to 0) would be log(0); floor it far below any price.
        return np.log(np.maximum(total, 1e-12))

    def linear_terms(self, X: np.ndarray) -> np.ndarray:
        """Per-column terms of the log-linear step, shape (n_samples, len(linear))."""
        if self.coef is None or self.mean is None:
            return np.zeros((X.shape[0], len(self.linear)))
        Z = X[:, list(self.linear)]
        if self.linear_range is not None:
            Z = np.clip(Z, self.linear_range[0], self.linear_range[1])
        return (Z - self.mean) * self.coef

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = self.log_prior(X)
        if self.coef is not None:
            out = out + self.linear_terms(X).sum(axis=1)
        return out
