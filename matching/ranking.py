"""Supplier ranking: hard filters, per-(RFQ, shop) features, a learned ranker, exposure budget.

Pipeline for one RFQ over a ``ShopIndex`` (columnar arrays of every shop, precomputed once):

1. **Hard filters**, in this order (the first that fails is the reason counted): process
   (a machine class that does the process with enough axes), envelope (the part's sorted extents
   fit a machine's sorted travel; rotating the part is allowed), material family, tolerance (the
   shop's tightest machine tolerance), certifications (all required), capacity (spare hours on
   fitting machines before ``needed_by`` cover the job's machine hours).
2. **Features** (``FEATURES``), vectorised over the surviving shops.
3. **Score** with one ``LambdaRanker.predict`` (LightGBM lambdarank / rank_xendcg trained on
   graded outcomes: shown 0, quoted 1, awarded 2, delivered on time 3).
4. **Exposure budget** (optional): shops that already got more than ``slack`` times the mean
   exposure of the candidates are pushed down: ``score - strength * log(exposure / (slack *
   mean))``, i.e. a multiplicative penalty on ``exp(score)`` (after Singh & Joachims 2018, fairness
   of exposure), so a few shops do not take every first place.
5. **Reasons** in plain words for the shops shown.

Cold start: a shop with no quotes has zero experience counts and the smoothed prior rates;
its capacity comes from its declared machines on a standard calendar at a prior utilisation,
so it can still rank on fit, capacity, distance and price.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from matching.capacity import MACHINE_CLASSES, ShopCapacity, WorkingCalendar
from matching.errors import InvalidRfq, InvalidTrainingData, RankerNotFitted
from matching.profiles import (
    FAMILIES,
    FAMILY_WORDS,
    PROCESSES,
    SIZE_BINS,
    DeclaredMachine,
    ShopProfile,
    material_family,
    size_bin,
)

#: What each machine class can do: process -> axes it brings.
CLASS_CAPABILITIES: dict[str, dict[str, int]] = {
    "3-axis": {"mill": 3},
    "4-axis": {"mill": 4},
    "5-axis": {"mill": 5},
    "lathe": {"lathe": 2},
    "mill-turn": {"lathe": 2, "mill-turn": 5},
}
FILTERS = ("process", "envelope", "material", "tolerance", "certification", "capacity")
FEATURES = (
    "price_ratio",
    "price_level",
    "lead_slack_days",
    "log_spare_ratio",
    "distance_km",
    "exp_quoted",
    "exp_won",
    "similar_quoted",
    "similar_won",
    "win_rate",
    "on_time_rate",
    "response_rate",
    "history",
    "deliveries",
    "idle_machines",
    "tolerance_margin",
    "envelope_margin",
)
EARTH_RADIUS_KM = 6371.0088
# Smoothing priors (pseudo-counts): shops win about 1 quote in 8 (DOMAIN.md), deliver ~90 % on
# time, and answer most requests they are shown.
WIN_PRIOR = (1.0, 8.0)
ON_TIME_PRIOR = (9.0, 10.0)
RESPONSE_PRIOR = (1.0, 2.0)


def eligible_classes(process: str, min_axes: int) -> tuple[int, ...]:
    """Indices into ``MACHINE_CLASSES`` of the classes that can make the part."""
    return tuple(
        k
        for k, cls in enumerate(MACHINE_CLASSES)
        if CLASS_CAPABILITIES[cls].get(process, 0) >= min_axes
    )


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasts)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Rfq:
    """A buyer's request as matching sees it.

    process: "mill", "lathe" or "mill-turn"; min_axes: axes the part needs (5 for parts that
    need 5-axis access). extents_mm: bounding box, mm. tolerance_mm: tightest +- mm.
    needed_by: date the parts must ship. location: buyer (lat, lon) in degrees.
    machine_hours: estimated machine time for the whole batch, h (from the quote engine).
    default_unit_price: the default model's JPY per piece (shops' prices scale from it).
    """

    rfq_id: str
    material: str
    extents_mm: tuple[float, float, float]
    needed_by: date
    machine_hours: float
    process: str = "mill"
    min_axes: int = 3
    quantity: int = 1
    tolerance_mm: float = 0.1
    finish: str = "none"
    certifications: tuple[str, ...] = ()
    location: tuple[float, float] | None = None
    default_unit_price: float | None = None

    def __post_init__(self) -> None:
        if self.process not in PROCESSES:
            raise InvalidRfq(f"process must be one of {', '.join(PROCESSES)}, got {self.process!r}")
        if not _is_int(self.min_axes) or not eligible_classes(self.process, self.min_axes):
            raise InvalidRfq(f"no machine class does {self.process} with {self.min_axes} axes")
        ext = self.extents_mm
        if not (
            isinstance(ext, tuple | list) and len(ext) == 3 and all(_num(v, 0, 1e5) for v in ext)
        ):
            raise InvalidRfq(f"extents_mm must be three positive lengths in mm, got {ext!r}")
        if not isinstance(self.needed_by, date):
            raise InvalidRfq(f"needed_by must be a date, got {self.needed_by!r}")
        if not _num(self.tolerance_mm, 0, 10):
            raise InvalidRfq(f"tolerance_mm must be in (0, 10) mm, got {self.tolerance_mm!r}")
        if not _num(self.machine_hours, 0, 10_000):
            raise InvalidRfq(f"machine_hours must be in (0, 10000) h, got {self.machine_hours!r}")
        if not _is_int(self.quantity) or self.quantity < 1:
            raise InvalidRfq(f"quantity must be a whole number >= 1, got {self.quantity!r}")
        if self.location is not None:
            loc = self.location
            if not (
                isinstance(loc, tuple | list)
                and len(loc) == 2
                and _num(loc[0], -90.0001, 90.0001)
                and _num(loc[1], -180.0001, 180.0001)
            ):
                raise InvalidRfq(f"location must be (lat, lon) in degrees, got {loc!r}")
        if self.default_unit_price is not None and not _num(self.default_unit_price, 0, 1e12):
            raise InvalidRfq("default_unit_price must be a positive JPY amount")
        if not all(isinstance(c, str) for c in self.certifications):
            raise InvalidRfq("certifications must be names such as 'ISO9001'")


def _num(v: Any, lo: float, hi: float) -> bool:
    """A real number strictly between lo and hi (bools, NaN and strings are not)."""
    return (
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and lo < v < hi
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class ShopInput:
    """A shop as the index needs it.

    location: (lat, lon) degrees. materials: material names or families it declares it cuts
    (families it has quoted are added). capacity: from ``capacity.aggregate_capacity``; None =
    derive from the declared machines (standard calendar at ``prior_utilisation``).
    base_lead_days: days beyond machine time (queue, finishing, inspection, shipping).
    """

    shop_id: str
    location: tuple[float, float]
    machines: tuple[DeclaredMachine, ...]
    certifications: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    profile: ShopProfile | None = None
    capacity: ShopCapacity | None = None
    base_lead_days: float = 5.0


@dataclass
class ShopIndex:
    """Columnar arrays over all shops (n) and machine classes (K), built once per refresh.

    Shapes: lat, lon (n,); certs (n, C) bool; family_ok (n, F) bool; class_env (n, K, 3)
    largest sorted travel per class, mm; class_count (n, K); best_tol (n,) mm; spare_cum
    (n, K, H+1) cumulative spare hours from ``start`` (day d = before day d); idle (n, K);
    exp_quoted / exp_won (n, P, F); sim_quoted / sim_won (n, P, F, B); rates (n,).
    """

    shop_ids: np.ndarray
    start: date
    lat: np.ndarray
    lon: np.ndarray
    cert_names: tuple[str, ...]
    certs: np.ndarray
    family_ok: np.ndarray
    class_env: np.ndarray
    class_count: np.ndarray
    best_tol: np.ndarray
    spare_cum: np.ndarray
    idle: np.ndarray
    exp_quoted: np.ndarray
    exp_won: np.ndarray
    sim_quoted: np.ndarray
    sim_won: np.ndarray
    win_rate: np.ndarray
    on_time_rate: np.ndarray
    response_rate: np.ndarray
    n_quoted: np.ndarray
    n_delivered: np.ndarray
    price_level: np.ndarray
    has_price_level: np.ndarray
    base_lead: np.ndarray
    _pos: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.shop_ids)

    @property
    def horizon(self) -> int:
        return self.spare_cum.shape[2] - 1

    def position(self, shop_id: str) -> int:
        if not self._pos:
            self._pos = {s: i for i, s in enumerate(self.shop_ids.tolist())}
        try:
            return self._pos[shop_id]
        except KeyError:
            raise InvalidRfq(f"unknown shop {shop_id!r}") from None

    @classmethod
    def build(
        cls,
        shops: Sequence[ShopInput],
        *,
        start: date,
        horizon_days: int = 30,
        calendar: WorkingCalendar | None = None,
        prior_utilisation: float = 0.5,
    ) -> ShopIndex:
        """Precompute the arrays (O(shops x machines)); see the class docstring."""
        n, K, F, P, B = len(shops), len(MACHINE_CLASSES), len(FAMILIES), len(PROCESSES), SIZE_BINS
        H = horizon_days
        cal = calendar or WorkingCalendar.standard()
        day_hours = np.array([cal.working_hours(start + timedelta(days=d)) for d in range(H)])
        cert_names = tuple(sorted({c for s in shops for c in s.certifications}))
        cert_pos = {c: i for i, c in enumerate(cert_names)}
        fam_pos = {f: i for i, f in enumerate(FAMILIES)}
        proc_pos = {p: i for i, p in enumerate(PROCESSES)}
        cls_pos = {c: i for i, c in enumerate(MACHINE_CLASSES)}
        lat = np.zeros(n)
        lon = np.zeros(n)
        certs = np.zeros((n, len(cert_names)), dtype=bool)
        family_ok = np.zeros((n, F), dtype=bool)
        class_env = np.zeros((n, K, 3))
        class_count = np.zeros((n, K), dtype=np.int32)
        best_tol = np.full(n, np.inf)
        spare = np.zeros((n, K, H))
        idle = np.zeros((n, K))
        exp_q = np.zeros((n, P, F), dtype=np.float32)
        exp_w = np.zeros((n, P, F), dtype=np.float32)
        sim_q = np.zeros((n, P, F, B), dtype=np.float32)
        sim_w = np.zeros((n, P, F, B), dtype=np.float32)
        win = np.zeros(n)
        on_time = np.zeros(n)
        resp = np.zeros(n)
        n_quoted = np.zeros(n)
        n_deliv = np.zeros(n)
        price = np.ones(n)
        has_price = np.zeros(n, dtype=bool)
        base_lead = np.zeros(n)
        for i, s in enumerate(shops):
            lat[i], lon[i] = s.location
            for c in s.certifications:
                certs[i, cert_pos[c]] = True
            for m in s.materials:
                f = m if m in fam_pos else material_family(m)
                family_ok[i, fam_pos[f]] = True
            for m in s.machines:
                k = cls_pos.get(m.machine_class)
                if k is None:
                    continue  # an "unknown" machine cannot be matched until the shop classifies it
                env = sorted((float(v) for v in m.envelope_mm), reverse=True)
                class_env[i, k] = np.maximum(class_env[i, k], env)
                class_count[i, k] += 1
                best_tol[i] = min(best_tol[i], m.tolerance_mm)
            base_lead[i] = s.base_lead_days
            if s.capacity is not None:
                for cname, arr in s.capacity.spare.items():
                    k = cls_pos.get(cname)
                    if k is None:
                        continue
                    offset = (start - s.capacity.start).days
                    seg = np.asarray(arr, dtype=float)[max(offset, 0) : max(offset, 0) + H]
                    spare[i, k, : len(seg)] = seg
                for cname, v in s.capacity.idle_machines.items():
                    if cname in cls_pos:
                        idle[i, cls_pos[cname]] = v
            else:
                spare[i] = class_count[i][:, None] * day_hours[None, :] * (1 - prior_utilisation)
                idle[i] = class_count[i] if prior_utilisation < 0.5 else 0
            p = s.profile
            if p is not None:
                for key, (q, w) in p.experience.items():
                    proc, fam = key.split("/")
                    exp_q[i, proc_pos[proc], fam_pos[fam]] = q
                    exp_w[i, proc_pos[proc], fam_pos[fam]] = w
                for key, (q, w) in p.similar.items():
                    proc, fam, b = key.split("/")
                    sim_q[i, proc_pos[proc], fam_pos[fam], int(b)] = q
                    sim_w[i, proc_pos[proc], fam_pos[fam], int(b)] = w
                for fam in p.families:
                    family_ok[i, fam_pos[fam]] = True
                decided = p.n_won + p.n_lost
                win[i] = (p.n_won + WIN_PRIOR[0]) / (decided + WIN_PRIOR[1])
                on_time[i] = (p.n_on_time + ON_TIME_PRIOR[0]) / (p.n_delivered + ON_TIME_PRIOR[1])
                resp[i] = (p.n_quoted + RESPONSE_PRIOR[0]) / (p.n_requests + RESPONSE_PRIOR[1])
                n_quoted[i] = p.n_quoted
                n_deliv[i] = p.n_delivered
                if p.price_level is not None:
                    price[i] = p.price_level
                    has_price[i] = True
            else:
                win[i] = WIN_PRIOR[0] / WIN_PRIOR[1]
                on_time[i] = ON_TIME_PRIOR[0] / ON_TIME_PRIOR[1]
                resp[i] = RESPONSE_PRIOR[0] / RESPONSE_PRIOR[1]
        spare_cum = np.zeros((n, K, H + 1))
        np.cumsum(np.maximum(spare, 0.0), axis=2, out=spare_cum[:, :, 1:])
        return cls(
            shop_ids=np.array([s.shop_id for s in shops], dtype=object),
            start=start,
            lat=lat,
            lon=lon,
            cert_names=cert_names,
            certs=certs,
            family_ok=family_ok,
            class_env=class_env,
            class_count=class_count,
            best_tol=best_tol,
            spare_cum=spare_cum,
            idle=idle,
            exp_quoted=exp_q,
            exp_won=exp_w,
            sim_quoted=sim_q,
            sim_won=sim_w,
            win_rate=win,
            on_time_rate=on_time,
            response_rate=resp,
            n_quoted=n_quoted,
            n_delivered=n_deliv,
            price_level=price,
            has_price_level=has_price,
            base_lead=base_lead,
        )


@dataclass(frozen=True)
class Candidates:
    """Shops that passed the hard filters, with what later steps need.

    idx: positions in the index, shape (m,). fits: (m, K) bool, machine classes that can make
    the part. filtered: shops removed per filter (first failing filter counts).
    """

    idx: np.ndarray
    fits: np.ndarray
    spare_hours: np.ndarray
    filtered: dict[str, int]


def _needed_day(index: ShopIndex, rfq: Rfq) -> int:
    return int(np.clip((rfq.needed_by - index.start).days, 0, index.horizon))


def hard_filter(rfq: Rfq, index: ShopIndex, *, exclude: Iterable[str] = ()) -> Candidates:
    """Apply the hard filters (module docstring, step 1) to every shop at once."""
    elig = list(eligible_classes(rfq.process, rfq.min_axes))
    part = np.sort(np.asarray(rfq.extents_mm, dtype=float))[::-1]
    has_class = index.class_count[:, elig] > 0
    fits = has_class & np.all(index.class_env[:, elig, :] >= part, axis=2)
    fam = FAMILIES.index(material_family(rfq.material))
    cert_ok = np.ones(index.n, dtype=bool)
    for c in rfq.certifications:
        if c in index.cert_names:
            cert_ok &= index.certs[:, index.cert_names.index(c)]
        else:
            cert_ok[:] = False  # nobody holds a certification the index has never seen
    nd = _needed_day(index, rfq)
    spare = (index.spare_cum[:, elig, nd] * fits).sum(axis=1)
    checks = (
        ("process", has_class.any(axis=1)),
        ("envelope", fits.any(axis=1)),
        ("material", index.family_ok[:, fam]),
        ("tolerance", index.best_tol <= rfq.tolerance_mm + 1e-12),
        ("certification", cert_ok),
        ("capacity", spare >= rfq.machine_hours),
    )
    alive = np.ones(index.n, dtype=bool)
    for shop in exclude:
        alive[index.position(shop)] = False
    filtered: dict[str, int] = {}
    for name, ok in checks:
        filtered[name] = int((alive & ~ok).sum())
        alive &= ok
    idx = np.flatnonzero(alive)
    full_fits = np.zeros((len(idx), len(MACHINE_CLASSES)), dtype=bool)
    full_fits[:, elig] = fits[idx]
    return Candidates(idx, full_fits, spare[idx], filtered)


@dataclass(frozen=True)
class FeatureBlock:
    """Features of the candidates (rows in ``Candidates.idx`` order) and the quantities that
    the answer shows: unit_price JPY/piece, lead_time_days, spare_hours, distance_km."""

    X: np.ndarray
    unit_price: np.ndarray
    lead_time_days: np.ndarray
    spare_hours: np.ndarray
    distance_km: np.ndarray


def rfq_features(rfq: Rfq, index: ShopIndex, cand: Candidates, *, today: date) -> FeatureBlock:
    """The ``FEATURES`` matrix, shape (m, len(FEATURES)), vectorised over the candidates."""
    c = cand.idx
    m = len(c)
    fits = cand.fits
    hours = rfq.machine_hours
    # machine days: first day by which fitting machines have accumulated the job's hours
    cols = np.flatnonzero(fits.any(axis=0))  # only the classes that can make the part
    cum = np.einsum(
        "mkd,mk->md", index.spare_cum[c[:, None], cols[None, :]], fits[:, cols].astype(float)
    )  # (m, H+1)
    reach = cum >= hours
    got = reach.any(axis=1)
    first = np.where(got, reach.argmax(axis=1), index.horizon).astype(float)
    rate = cum[:, -1] / max(index.horizon, 1)
    extra = np.where(got, 0.0, (hours - cum[:, -1]) / np.maximum(rate, 1e-6))
    offset = (index.start - today).days
    lead = index.base_lead[c] + first + np.minimum(extra, 365.0) + offset
    avail = float((rfq.needed_by - today).days)
    base_price = rfq.default_unit_price if rfq.default_unit_price is not None else 1.0
    unit = base_price * index.price_level[c]
    price_ratio = unit / unit.min() if m else unit
    if rfq.location is not None:
        dist = haversine_km(rfq.location[0], rfq.location[1], index.lat[c], index.lon[c])
    else:
        dist = np.zeros(m)
    p = PROCESSES.index(rfq.process)
    f = FAMILIES.index(material_family(rfq.material))
    b = size_bin(rfq.extents_mm)
    lo, hi = max(0, b - 1), min(SIZE_BINS, b + 2)
    part = np.sort(np.asarray(rfq.extents_mm, dtype=float))[::-1]
    env_ratio = (index.class_env[c] / part).min(axis=2)  # (m, K)
    env_margin = np.log(np.where(fits, env_ratio, 1e-9).max(axis=1))
    X = np.empty((m, len(FEATURES)), dtype=np.float64)
    X[:, 0] = price_ratio
    X[:, 1] = index.price_level[c]
    X[:, 2] = avail - lead
    X[:, 3] = np.log1p(cand.spare_hours / hours)
    X[:, 4] = dist
    X[:, 5] = np.log1p(index.exp_quoted[c, p, f])
    X[:, 6] = np.log1p(index.exp_won[c, p, f])
    X[:, 7] = np.log1p(index.sim_quoted[c, p, f, lo:hi].sum(axis=1))
    X[:, 8] = np.log1p(index.sim_won[c, p, f, lo:hi].sum(axis=1))
    X[:, 9] = index.win_rate[c]
    X[:, 10] = index.on_time_rate[c]
    X[:, 11] = index.response_rate[c]
    X[:, 12] = np.log1p(index.n_quoted[c])
    X[:, 13] = np.log1p(index.n_delivered[c])
    X[:, 14] = (index.idle[c] * fits).sum(axis=1)
    X[:, 15] = np.log(rfq.tolerance_mm / index.best_tol[c])
    X[:, 16] = env_margin
    return FeatureBlock(X, unit, lead, cand.spare_hours, dist)


# --- The learned ranker ----------------------------------------------------------------------


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
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
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
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(self.booster_.predict(X, num_threads=self.n_jobs), dtype=np.float64)

    def score(self, X: Any, y: Any, group: Any = None, qid: Any = None) -> float:
        """Mean NDCG@5 over the queries (1.0 = perfect order)."""
        s = self.predict(X)
        sizes = _groups_from(len(s), group, qid)
        return mean_ndcg(np.asarray(y, dtype=float), s, sizes, k=5)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
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


# --- Exposure budget -------------------------------------------------------------------------


class ExposureBudget:
    """Decayed exposure per shop and the penalty for shops over their share.

    Each ranking shown adds ``1 / log2(2 + rank)`` to the shops in its first ``k`` places (the
    attention a position gets); older exposure decays by ``0.5 ** (1 / half_life)`` per recorded
    ranking. Among a request's candidates, a shop with exposure above ``slack`` times their mean
    loses ``strength * log(exposure / (slack * mean))`` from its score.
    """

    def __init__(
        self,
        n_shops: int,
        *,
        k: int = 5,
        half_life: float = 200.0,
        strength: float = 1.0,
        slack: float = 1.5,
    ) -> None:
        self.k = k
        self.half_life = half_life
        self.strength = strength
        self.slack = slack
        self.exposure = np.zeros(n_shops)
        self._decay = 0.5 ** (1.0 / half_life)

    def penalty(self, idx: np.ndarray) -> np.ndarray:
        e = self.exposure[idx]
        mean = e.mean() if len(e) else 0.0
        if mean <= 0:
            return np.zeros(len(idx))
        over = e / (self.slack * mean)
        return self.strength * np.log(np.maximum(over, 1.0))

    def record(self, shown: np.ndarray) -> None:
        """Add the exposure of one shown ranking (index positions, best first)."""
        self.exposure *= self._decay
        top = np.asarray(shown)[: self.k]
        self.exposure[top] += 1.0 / np.log2(2.0 + np.arange(len(top)))


# --- Matching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedShop:
    """One shop in a match answer. score: ranker score after the exposure penalty (only the
    order means something). unit_price: JPY/piece from the shop's price level over the default
    model. lead_time_days: calendar days from today. spare_hours: on fitting machines before
    needed_by. distance_km: to the buyer (0 when no location was given)."""

    shop_id: str
    score: float
    unit_price: float | None
    lead_time_days: float
    spare_hours: float
    distance_km: float
    reasons: tuple[str, ...]
    features: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MatchResult:
    """Ranked shops for one RFQ; candidates = shops that passed every filter; filtered = how
    many each filter removed."""

    rfq_id: str
    shops: tuple[RankedShop, ...]
    candidates: int
    filtered: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rfq_id": self.rfq_id,
            "shops": [s.to_dict() for s in self.shops],
            "candidates": self.candidates,
            "filtered": dict(self.filtered),
        }


def reasons_for(
    rfq: Rfq, index: ShopIndex, cand: Candidates, fb: FeatureBlock, row: int, *, today: date
) -> tuple[str, ...]:
    """Plain-word reasons for one candidate row (what a buyer can check)."""
    i = int(cand.idx[row])
    out: list[str] = []
    fits = cand.fits[row]
    idle = index.idle[i] * fits
    if idle.max() > 0:
        k = int(idle.argmax())
        n = int(idle[k])
        out.append(f"has {n} idle {MACHINE_CLASSES[k]} machine{'s' if n > 1 else ''} next week")
    out.append(f"{fb.spare_hours[row]:.0f} spare machine hours before {rfq.needed_by.isoformat()}")
    fam = material_family(rfq.material)
    words = FAMILY_WORDS[fam]
    p, f = PROCESSES.index(rfq.process), FAMILIES.index(fam)
    b = size_bin(rfq.extents_mm)
    lo, hi = max(0, b - 1), min(SIZE_BINS, b + 2)
    sq = int(index.sim_quoted[i, p, f, lo:hi].sum())
    sw = int(index.sim_won[i, p, f, lo:hi].sum())
    eq, ew = int(index.exp_quoted[i, p, f]), int(index.exp_won[i, p, f])
    if sq > 0:
        out.append(f"quoted {sq} similar {words} parts, won {sw}")
    elif eq > 0:
        out.append(f"quoted {eq} {words} {rfq.process} parts, won {ew}")
    elif index.n_quoted[i] == 0:
        out.append("new on Mitsumori: matched on its declared machines")
    nd = int(index.n_delivered[i])
    if nd >= 3:
        rate = (index.on_time_rate[i] * (nd + ON_TIME_PRIOR[1]) - ON_TIME_PRIOR[0]) / nd
        out.append(f"delivered {rate:.0%} on time ({nd} jobs)")
    if index.has_price_level[i] and abs(index.price_level[i] - 1.0) >= 0.05:
        pct = abs(index.price_level[i] - 1.0) * 100
        side = "below" if index.price_level[i] < 1.0 else "above"
        out.append(f"prices {pct:.0f}% {side} the default model")
    slack = (rfq.needed_by - today).days - fb.lead_time_days[row]
    if slack >= 0:
        out.append(f"can ship in about {fb.lead_time_days[row]:.0f} days ({slack:.0f} to spare)")
    else:
        out.append(f"needs about {fb.lead_time_days[row]:.0f} days, {-slack:.0f} past needed_by")
    if rfq.location is not None:
        out.append(f"{fb.distance_km[row]:.0f} km away")
    return tuple(out)


def rank(
    rfq: Rfq,
    index: ShopIndex,
    ranker: LambdaRanker,
    *,
    today: date,
    k: int = 10,
    exposure: ExposureBudget | None = None,
    exclude: Iterable[str] = (),
    record_exposure: bool = True,
) -> MatchResult:
    """Rank the shops for ``rfq``: filters, features, one predict, exposure, top ``k``.

    today: the date the buyer asks on (lead times count from it). exclude: shop ids never to
    return (the asking shop in work sharing). exposure: the budget to apply and, unless
    ``record_exposure`` is False, to charge with this answer.
    """
    if rfq.needed_by <= today:
        raise InvalidRfq(f"needed_by {rfq.needed_by} must be after today ({today})")
    if not hasattr(ranker, "booster_"):
        raise RankerNotFitted("the ranker is not trained: run train_default_ranker() first")
    cand = hard_filter(rfq, index, exclude=exclude)
    if len(cand.idx) == 0:
        return MatchResult(rfq.rfq_id, (), 0, cand.filtered)
    fb = rfq_features(rfq, index, cand, today=today)
    scores = ranker.predict(fb.X)
    if exposure is not None:
        scores = scores - exposure.penalty(cand.idx)
    kk = min(k, len(scores))
    top = np.argpartition(-scores, kk - 1)[:kk]
    top = top[np.lexsort((cand.idx[top], -scores[top]))]
    if exposure is not None and record_exposure:
        exposure.record(cand.idx[top])
    shops = []
    for r in top:
        shops.append(
            RankedShop(
                shop_id=str(index.shop_ids[cand.idx[r]]),
                score=float(scores[r]),
                unit_price=None if rfq.default_unit_price is None else float(fb.unit_price[r]),
                lead_time_days=float(fb.lead_time_days[r]),
                spare_hours=float(fb.spare_hours[r]),
                distance_km=float(fb.distance_km[r]),
                reasons=reasons_for(rfq, index, cand, fb, int(r), today=today),
                features=dict(zip(FEATURES, map(float, fb.X[r]), strict=True)),
            )
        )
    return MatchResult(rfq.rfq_id, tuple(shops), len(cand.idx), cand.filtered)


def partners_for(
    rfq: Rfq,
    from_shop: str,
    index: ShopIndex,
    ranker: LambdaRanker,
    *,
    today: date,
    k: int = 5,
    exposure: ExposureBudget | None = None,
) -> MatchResult:
    """Work sharing: shops ``from_shop`` could pass ``rfq`` to, ranked like a buyer's match."""
    index.position(from_shop)  # unknown shop -> InvalidRfq
    return rank(rfq, index, ranker, today=today, k=k, exposure=exposure, exclude=(from_shop,))


def rank_many(
    rfqs: Sequence[Rfq],
    index: ShopIndex,
    ranker: LambdaRanker,
    *,
    today: date,
    k: int = 10,
    exposure: ExposureBudget | None = None,
) -> Mapping[str, MatchResult]:
    """``rank`` for each RFQ (exposure charged in order)."""
    return {r.rfq_id: rank(r, index, ranker, today=today, k=k, exposure=exposure) for r in rfqs}


def describe_ranker(ranker: LambdaRanker) -> dict[str, Any]:
    """Version, data hash and metrics an artifact carries (set by ``train_default_ranker``)."""
    return {
        "params": ranker.get_params(),
        "features": list(FEATURES),
        "training_hash": getattr(ranker, "training_hash_", None),
        "metrics": getattr(ranker, "metrics_", None),
        "version": getattr(ranker, "version_", None),
    }


RANKER_FORMAT = 1


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
        raise ModelNotFound(
            f"no ranker at {p}; train one with matching.simulate.train_default_ranker"
        )
    try:
        blob = joblib.load(p)
    except Exception as err:  # a truncated or foreign file
        raise ModelIncompatible(f"{p} is not a readable ranker file: {err}") from None
    if not isinstance(blob, dict) or blob.get("format") != RANKER_FORMAT:
        raise ModelIncompatible(f"{p} was written by another version of the ranker format")
    if tuple(blob.get("features", ())) != FEATURES:
        raise ModelIncompatible(f"{p} was trained on other features; retrain it")
    return blob["ranker"]
