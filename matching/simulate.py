"""A seeded marketplace simulator: shops, RFQs over time, and what buyers and shops decide.

It produces the ranker's training data (groups = RFQs, graded labels; the training itself is in
``matching.ranker_training``) and the benchmarks' held-out RFQs; the demo's live machines are in
``matching.simulate_machines``. Everything is drawn from ``numpy.random.Generator(seed)``, so a
seed gives the same market.

**Shops** (hidden truth the ranker must learn from observable history): machines of the classes
their kind of shop owns (milling, turning, mixed) with envelopes around catalogue sizes;
tightest tolerance; certifications; materials they cut with a skill in [0.3, 1] each; a true
price level (lognormal around the default model, sd 0.15); a true on-time probability (about
0.9); responsiveness; a base utilisation; a location near a Japanese manufacturing city.

**RFQs**: a buyer in a city asks for a part (process, axes, material, size, tolerance, quantity,
certifications) needed 7-40 days out; its machine hours and default unit price follow from size
and quantity. The platform shows it to up to ``shown`` shops drawn uniformly from those that pass
the hard filters (a uniform logging policy, so training labels are not biased by an earlier
ranker).

**Shop acceptance** (quote or no-bid): ``P = responsiveness * sigmoid(-1 + 3 * skill + 0.8 *
log(spare / hours) - 3 * busy)``, where busy is the share of next week's working hours already
taken. A quote asks ``default price * price level * (1 + 0.25 * busy) * lognormal(0, 0.05)`` and
a lead time from the shop's capacity.

**Buyer utility** over the shops that quoted: ``U = -4 log(price / cheapest quote)
- 0.3 * max(0, lead - days available) - 0.5 * distance / 300 km + 3 * (on-time prob - 0.9)
+ 1.0 * skill + Gumbel(0, 0.5)``. The buyer awards the best quote if its ``U > -1.5`` (else
walks away). The winner delivers on time with its on-time probability, halved when its lead time
runs past the date needed. Its machine hours are booked into its capacity.

Labels: shown 0, quoted 1, awarded 2, awarded and delivered on time 3. Quote records (no-bid,
lost, won, with delivery outcomes once the need date passes) feed the shops' profiles, so
features at each RFQ only use what was known before it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from matching.capacity import MACHINE_CLASSES, ShopCapacity, WorkingCalendar
from matching.profiles import DeclaredMachine, ProfileBuilder, QuoteRecord
from matching.ranking.features import rfq_features
from matching.ranking.filters import Candidates, hard_filter
from matching.ranking.index import Rfq, ShopIndex, ShopInput

#: Manufacturing cities (name, lat, lon, weight as a buyer/shop location).
CITIES: tuple[tuple[str, float, float, float], ...] = (
    ("Tokyo (Ota)", 35.561, 139.716, 3.0),
    ("Higashiosaka", 34.679, 135.601, 3.0),
    ("Nagoya", 35.181, 136.906, 2.5),
    ("Yokohama", 35.444, 139.638, 2.0),
    ("Kawasaki", 35.531, 139.703, 1.5),
    ("Hamamatsu", 34.711, 137.726, 1.5),
    ("Toyota", 35.083, 137.156, 1.5),
    ("Kobe", 34.690, 135.196, 1.0),
    ("Kyoto", 35.012, 135.768, 1.0),
    ("Sakai", 34.573, 135.483, 1.0),
    ("Tsubame-Sanjo", 37.644, 138.942, 1.0),
    ("Suwa", 36.039, 138.114, 1.0),
    ("Hiroshima", 34.385, 132.455, 1.0),
    ("Kitakyushu", 33.883, 130.875, 1.0),
    ("Fukuoka", 33.590, 130.402, 0.8),
    ("Sendai", 38.268, 140.870, 0.8),
    ("Okayama", 34.655, 133.919, 0.7),
    ("Shizuoka", 34.976, 138.383, 0.7),
    ("Kanazawa", 36.561, 136.656, 0.6),
    ("Sapporo", 43.062, 141.354, 0.5),
)
#: Typical travel (mm, sorted) and +-mm tolerance per class, rate JPY/h.
CLASS_SPECS = {
    "3-axis": ((800.0, 500.0, 500.0), 0.02, 6000.0),
    "4-axis": ((800.0, 500.0, 500.0), 0.02, 8000.0),
    "5-axis": ((650.0, 650.0, 500.0), 0.01, 12000.0),
    "lathe": ((600.0, 350.0, 350.0), 0.01, 5500.0),
    "mill-turn": ((800.0, 300.0, 300.0), 0.01, 10000.0),
}
SHOP_KINDS = {
    "milling": {"3-axis": 0.6, "4-axis": 0.15, "5-axis": 0.25},
    "turning": {"lathe": 0.75, "mill-turn": 0.25},
    "mixed": {"3-axis": 0.35, "5-axis": 0.15, "lathe": 0.35, "mill-turn": 0.15},
}
MATERIALS = {
    "A5052": 0.22,
    "A6061": 0.18,
    "A7075": 0.06,
    "S45C": 0.14,
    "SS400": 0.06,
    "SCM440": 0.05,
    "SUS304": 0.12,
    "SUS316": 0.03,
    "C3604": 0.07,
    "Ti-6Al-4V": 0.02,
    "POM": 0.05,
}
CERTIFICATIONS = {"ISO9001": 0.5, "IATF16949": 0.1, "JISQ9100": 0.08, "ISO13485": 0.05}
RFQ_CERTS = {"ISO9001": 0.2, "IATF16949": 0.04, "JISQ9100": 0.03, "ISO13485": 0.02}


@dataclass(frozen=True)
class SimShop:
    """A simulated shop: what it declares (machines, certifications, materials, location) and
    its hidden truth (price level, on-time probability, skill per family, responsiveness)."""

    shop_id: str
    city: str
    location: tuple[float, float]
    kind: str
    machines: tuple[DeclaredMachine, ...]
    certifications: tuple[str, ...]
    families: tuple[str, ...]
    calendar: WorkingCalendar
    utilisation: float
    price_level: float
    quality: float
    responsiveness: float
    skill: dict[str, float]
    base_lead_days: float


@dataclass(frozen=True)
class LoggedRfq:
    """One simulated RFQ and what happened: shown shops (index positions), their labels, the
    feature rows, and what baselines need (unit price, distance, spare hours)."""

    rfq: Rfq
    day: date
    shown: np.ndarray
    labels: np.ndarray
    X: np.ndarray
    unit_price: np.ndarray
    distance_km: np.ndarray
    spare_hours: np.ndarray
    candidates: int


@dataclass
class Market:
    """A simulated market: shops, the logged RFQs in time order, the quote records."""

    shops: tuple[SimShop, ...]
    logs: list[LoggedRfq]
    quotes: list[QuoteRecord]
    start: date
    days: int
    seed: int
    final_index: ShopIndex | None = None
    final_inputs: tuple[ShopInput, ...] = ()
    stats: dict[str, float] = field(default_factory=dict)

    def arrays(self, logs: Sequence[LoggedRfq] | None = None) -> tuple[np.ndarray, ...]:
        """(X, y, group sizes) of the given logs (default: all), for ``LambdaRanker.fit``."""
        use = self.logs if logs is None else logs
        X = np.vstack([g.X for g in use])
        y = np.concatenate([g.labels for g in use])
        sizes = np.array([len(g.labels) for g in use])
        return X, y, sizes

    def split(self, train_share: float = 0.75) -> tuple[list[LoggedRfq], list[LoggedRfq]]:
        """Time split: RFQs of the first ``train_share`` of days train, the rest test."""
        cut = self.start + timedelta(days=int(self.days * train_share))
        return [g for g in self.logs if g.day < cut], [g for g in self.logs if g.day >= cut]


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _city(rng: np.random.Generator) -> tuple[str, tuple[float, float]]:
    w = np.array([c[3] for c in CITIES])
    name, lat, lon, _ = CITIES[int(rng.choice(len(CITIES), p=w / w.sum()))]
    return name, (lat + rng.normal(0, 0.05), lon + rng.normal(0, 0.05))


def make_shops(n_shops: int, rng: np.random.Generator) -> tuple[SimShop, ...]:
    """Draw ``n_shops`` shops (see the module docstring)."""
    shops = []
    for i in range(n_shops):
        kind = _pick(rng, {"milling": 0.45, "turning": 0.25, "mixed": 0.3})
        n_mach = int(rng.integers(2, 13))
        machines = []
        for j in range(n_mach):
            cls = _pick(rng, SHOP_KINDS[kind])
            env, tol, rate = CLASS_SPECS[cls]
            scale = float(np.exp(rng.normal(0, 0.3)))
            machines.append(
                DeclaredMachine(
                    machine_id=f"S{i:03d}-M{j:02d}",
                    machine_class=cls,
                    envelope_mm=tuple(round(v * scale) for v in env),  # type: ignore[arg-type]  # 3 values
                    tolerance_mm=float(tol * rng.choice([0.5, 1.0, 1.0, 2.0])),
                    hourly_rate_jpy=rate,
                )
            )
        certs = tuple(c for c, p in CERTIFICATIONS.items() if rng.random() < p)
        fams = ["aluminium", "steel"] + [
            f for f in ("stainless", "copper_alloy", "titanium", "plastic") if rng.random() < 0.5
        ]
        skill = {f: float(rng.uniform(0.3, 1.0)) for f in fams}
        city, loc = _city(rng)
        shifts = _pick(rng, {"one": 0.7, "two": 0.2, "saturday": 0.1})
        if shifts == "two":
            cal = WorkingCalendar.standard(start=8.0, end=22.0, lunch=(12.0, 13.0))
        elif shifts == "saturday":
            cal = WorkingCalendar.standard(workdays=6)
        else:
            cal = WorkingCalendar.standard()
        shops.append(
            SimShop(
                shop_id=f"S{i:03d}",
                city=city,
                location=(float(loc[0]), float(loc[1])),
                kind=kind,
                machines=tuple(machines),
                certifications=certs,
                families=tuple(fams),
                calendar=cal,
                utilisation=float(rng.uniform(0.3, 0.9)),
                price_level=float(np.exp(rng.normal(0, 0.15))),
                quality=float(rng.beta(12, 1.5)),
                responsiveness=float(rng.uniform(0.5, 0.95)),
                skill=skill,
                base_lead_days=float(rng.integers(3, 8)),
            )
        )
    return tuple(shops)


def make_rfq(rng: np.random.Generator, rid: str, today: date) -> Rfq:
    """Draw one buyer request (see the module docstring)."""
    process = _pick(rng, {"mill": 0.6, "lathe": 0.28, "mill-turn": 0.12})
    min_axes = 5 if process == "mill" and rng.random() < 0.25 else (3 if process == "mill" else 2)
    if process == "mill-turn":
        min_axes = 5
    size = float(np.exp(rng.normal(math.log(90), 0.7)))
    if process == "mill":
        ext = (size, size * rng.uniform(0.3, 1.0), size * rng.uniform(0.1, 0.6))
    else:
        d = size * rng.uniform(0.2, 0.7)
        ext = (size, d, d)
    qty = int(max(1, round(float(np.exp(rng.normal(math.log(20), 1.2))))))
    hours = float(np.clip(0.5 + 0.004 * size * (1 + 0.6 * (min_axes == 5)) * qty**0.8, 0.5, 60))
    price = float(2000 + 25 * size * (1 + 0.5 * (min_axes == 5)) * (1 + 20 / qty))
    _, loc = _city(rng)
    certs = tuple(c for c, p in RFQ_CERTS.items() if rng.random() < p)
    return Rfq(
        rfq_id=rid,
        material=_pick(rng, MATERIALS),
        process=process,
        min_axes=min_axes,
        extents_mm=tuple(round(float(v), 1) for v in ext),  # type: ignore[arg-type]  # 3 values
        quantity=qty,
        tolerance_mm=float(rng.choice([0.1, 0.05, 0.05, 0.02, 0.02, 0.01])),
        finish="none",
        needed_by=today + timedelta(days=int(rng.integers(7, 41))),
        certifications=certs,
        location=(float(loc[0]), float(loc[1])),
        machine_hours=round(hours, 2),
        default_unit_price=round(price, 0),
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def simulate_market(
    *,
    n_shops: int = 80,
    days: int = 100,
    rfqs_per_day: int = 30,
    shown: int = 8,
    horizon_days: int = 30,
    start: date = date(2025, 1, 6),
    seed: int = 0,
) -> Market:
    """Run the market for ``days`` days (see the module docstring); deterministic per seed."""
    rng = np.random.default_rng(seed)
    shops = make_shops(n_shops, rng)
    K = len(MACHINE_CLASSES)
    cls_pos = {c: k for k, c in enumerate(MACHINE_CLASSES)}
    total_days = days + horizon_days + 45
    # spare[s, k, d]: free hours of class k at shop s on absolute day d; working alike
    working = np.zeros((n_shops, K, total_days))
    spare = np.zeros((n_shops, K, total_days))
    for s, shop in enumerate(shops):
        counts = np.zeros(K)
        for m in shop.machines:
            counts[cls_pos[m.machine_class]] += 1
        for d in range(total_days):
            wh = shop.calendar.working_hours(start + timedelta(days=d))
            working[s, :, d] = counts * wh
            load = np.clip(shop.utilisation + rng.normal(0, 0.1), 0.0, 1.0)
            spare[s, :, d] = counts * wh * (1.0 - load)
    builders = {
        sh.shop_id: ProfileBuilder(sh.shop_id, sh.machines, sh.certifications) for sh in shops
    }
    pending: list[tuple[date, QuoteRecord]] = []
    logs: list[LoggedRfq] = []
    quotes: list[QuoteRecord] = []
    n_award = n_quote = n_shown = 0
    index: ShopIndex | None = None
    inputs: tuple[ShopInput, ...] = ()
    for t in range(days):
        today = start + timedelta(days=t)
        due = [p for p in pending if p[0] <= today]
        pending = [p for p in pending if p[0] > today]
        for _, rec in due:
            builders[rec.shop].fold(rec)
        inputs = tuple(
            _shop_input(sh, builders[sh.shop_id], spare[s], working[s], t, today, horizon_days)
            for s, sh in enumerate(shops)
        )
        index = ShopIndex.build(inputs, start=today, horizon_days=horizon_days)
        for r in range(rfqs_per_day):
            rfq = make_rfq(rng, f"R{t:03d}-{r:02d}", today)
            cand = hard_filter(rfq, index)
            n_cand = len(cand.idx)
            if n_cand == 0:
                continue
            fb = rfq_features(rfq, index, cand, today=today)
            sel = np.sort(rng.choice(n_cand, size=min(shown, n_cand), replace=False))
            labels = _outcomes(
                rng,
                rfq,
                today,
                shops,
                cand,
                fb,
                sel,
                spare,
                working,
                t,
                quotes,
                pending,
                builders,
                cls_pos,
            )
            n_shown += len(sel)
            n_quote += int((labels >= 1).sum())
            n_award += int((labels >= 2).sum())
            logs.append(
                LoggedRfq(
                    rfq=rfq,
                    day=today,
                    shown=cand.idx[sel],
                    labels=labels,
                    X=fb.X[sel],
                    unit_price=fb.unit_price[sel],
                    distance_km=fb.distance_km[sel],
                    spare_hours=fb.spare_hours[sel],
                    candidates=n_cand,
                )
            )
    stats = {
        "rfqs": float(len(logs)),
        "shown": float(n_shown),
        "quote_rate": n_quote / max(n_shown, 1),
        "award_rate_per_rfq": n_award / max(len(logs), 1),
    }
    return Market(shops, logs, quotes, start, days, seed, index, inputs, stats)


def _shop_input(
    shop: SimShop,
    builder: ProfileBuilder,
    spare: np.ndarray,
    working: np.ndarray,
    t: int,
    today: date,
    horizon: int,
) -> ShopInput:
    sp = {c: spare[k, t : t + horizon].copy() for k, c in enumerate(MACHINE_CLASSES)}
    wk = {c: working[k, t : t + horizon].copy() for k, c in enumerate(MACHINE_CLASSES)}
    idle: dict[str, int] = {}
    for k, c in enumerate(MACHINE_CLASSES):
        n = sum(1 for m in shop.machines if m.machine_class == c)
        w = working[k, t : t + 7].sum()
        if n and w > 0:
            # machines' worth of free time next week, counted when at least half a machine
            idle[c] = int(round(n * spare[k, t : t + 7].sum() / w - 0.25))
    return ShopInput(
        shop_id=shop.shop_id,
        location=shop.location,
        machines=shop.machines,
        certifications=shop.certifications,
        materials=shop.families,
        profile=builder.profile(),
        capacity=ShopCapacity(shop.shop_id, today, sp, wk, {c: max(v, 0) for c, v in idle.items()}),
        base_lead_days=shop.base_lead_days,
    )


def _outcomes(
    rng: np.random.Generator,
    rfq: Rfq,
    today: date,
    shops: Sequence[SimShop],
    cand: Candidates,
    fb: object,
    sel: np.ndarray,
    spare: np.ndarray,
    working: np.ndarray,
    t: int,
    quotes: list[QuoteRecord],
    pending: list[tuple[date, QuoteRecord]],
    builders: dict[str, ProfileBuilder],
    cls_pos: dict[str, int],
) -> np.ndarray:
    """Shop acceptance, buyer choice and delivery for the shown shops; records the quotes."""
    from matching.profiles import material_family

    fam = material_family(rfq.material)
    avail = (rfq.needed_by - today).days
    created = datetime.combine(today, time(9, 0), tzinfo=UTC)
    labels = np.zeros(len(sel), dtype=np.int32)
    quoted: list[tuple[int, float, float, float]] = []  # (row, price, lead, utility-base)
    for row, j in enumerate(sel):
        s = int(cand.idx[j])
        shop = shops[s]
        skill = shop.skill.get(fam, 0.3)
        fits = cand.fits[j]
        wk = (working[s, fits, t : t + 7]).sum()
        busy = 1.0 - (spare[s, fits, t : t + 7]).sum() / wk if wk > 0 else 1.0
        ratio = max(cand.spare_hours[j] / rfq.machine_hours, 1e-3)
        p_quote = shop.responsiveness * _sigmoid(-1 + 3 * skill + 0.8 * math.log(ratio) - 3 * busy)
        if rng.random() >= p_quote:
            continue
        price = (
            (rfq.default_unit_price or 1.0)
            * shop.price_level
            * (1 + 0.25 * busy)
            * float(np.exp(rng.normal(0, 0.05)))
        )
        lead = float(fb.lead_time_days[j]) + float(rng.integers(0, 2))  # type: ignore[attr-defined]  # filled block
        base = (
            -0.3 * max(0.0, lead - avail)
            - 0.5 * float(fb.distance_km[j]) / 300.0  # type: ignore[attr-defined]  # filled block
            + 3.0 * (shop.quality - 0.9)
            + 1.0 * skill
        )
        quoted.append((row, price, lead, base))
        labels[row] = 1
    winner = -1
    if quoted:
        cheapest = min(q[1] for q in quoted)
        utils = [
            -4.0 * math.log(q[1] / cheapest) + q[3] + float(rng.gumbel(0, 0.5)) for q in quoted
        ]
        best = int(np.argmax(utils))
        if utils[best] > -1.5:
            winner = quoted[best][0]
    prices = {q[0]: q[1] for q in quoted}
    leads = {q[0]: q[2] for q in quoted}
    for row, j in enumerate(sel):
        s = int(cand.idx[j])
        shop = shops[s]
        qid = f"{rfq.rfq_id}:{shop.shop_id}"
        hours_to_quote = float(np.exp(rng.normal(math.log(6.0 / shop.responsiveness), 0.5)))
        answered = created + timedelta(hours=hours_to_quote)
        if row in prices:
            status = "won" if row == winner else "lost"
            rec = QuoteRecord(
                qid,
                shop.shop_id,
                rfq.material,
                rfq.process,
                rfq.extents_mm,
                rfq.tolerance_mm,
                rfq.finish,
                rfq.quantity,
                round(prices[row], 2),
                rfq.default_unit_price,
                created,
                answered,
                status,
            )
        else:
            rec = QuoteRecord(
                qid,
                shop.shop_id,
                rfq.material,
                rfq.process,
                rfq.extents_mm,
                rfq.tolerance_mm,
                rfq.finish,
                rfq.quantity,
                None,
                rfq.default_unit_price,
                created,
                answered,
                "no_bid",
            )
        builders[shop.shop_id].fold(rec)
        quotes.append(rec)
        if row == winner:
            labels[row] = 2
            late = leads[row] > avail
            on_time = rng.random() < shop.quality * (0.5 if late else 1.0)
            if on_time:
                labels[row] = 3
            done = QuoteRecord(**{**rec.__dict__, "delivered_on_time": bool(on_time)})
            pending.append((rfq.needed_by, done))
            _book(spare, s, cand.fits[j], t, rfq.machine_hours)
    return labels


def _book(spare: np.ndarray, s: int, fits: np.ndarray, t: int, hours: float) -> None:
    """Take ``hours`` from the shop's fitting classes, earliest days first."""
    left = hours
    for d in range(t, spare.shape[2]):
        for k in np.flatnonzero(fits):
            take = min(spare[s, k, d], left)
            spare[s, k, d] -= take
            left -= take
            if left <= 1e-9:
                return
