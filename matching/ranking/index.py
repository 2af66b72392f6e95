"""The ranking's inputs: a buyer's ``Rfq``, each shop (``ShopInput``) and ``ShopIndex``, the
columnar arrays over all shops that the filters and features read (built once per refresh).

Cold start: a shop with no quotes has zero experience counts and the smoothed prior rates;
its capacity comes from its declared machines on a standard calendar at a prior utilisation,
so it can still rank on fit, capacity, distance and price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from matching.capacity import MACHINE_CLASSES, ShopCapacity, WorkingCalendar
from matching.errors import InvalidRfq
from matching.profiles import (
    FAMILIES,
    PROCESSES,
    SIZE_BINS,
    DeclaredMachine,
    ShopProfile,
    material_family,
)

#: What each machine class can do: process -> axes it brings.
CLASS_CAPABILITIES: dict[str, dict[str, int]] = {
    "3-axis": {"mill": 3},
    "4-axis": {"mill": 4},
    "5-axis": {"mill": 5},
    "lathe": {"lathe": 2},
    "mill-turn": {"lathe": 2, "mill-turn": 5},
}
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
            for mat in s.materials:
                f = mat if mat in fam_pos else material_family(mat)
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
