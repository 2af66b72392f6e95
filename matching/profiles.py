"""Capability profiles: what a shop makes, how well, at what price, from its quotes and outcomes.

A profile is computed, never typed in by the shop (like Jiga's supplier statistics): it folds
the shop's quote records one at a time, so the platform updates it as each quote or outcome
arrives, and folding a newer version of the same quote (open -> won -> delivered) replaces the
old one. Declared machines and certifications come with the shop and cover cold start.

Rates: win rate = won / (won + lost) over decided quotes (a no-bid is the shop declining, it
counts in ``response_rate`` = quoted / requests instead); on-time rate = delivered on time /
delivered; price level = median of (quoted unit price / the default model's unit price), so
0.9 means the shop quotes 10 % under the platform's default model.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from matching.errors import InvalidQuoteRecord

STATUSES = ("open", "won", "lost", "no_bid")
PROCESSES = ("mill", "lathe", "mill-turn")
FAMILIES = ("aluminium", "steel", "stainless", "copper_alloy", "titanium", "plastic", "other")
FAMILY_WORDS = {
    "aluminium": "aluminium",
    "steel": "steel",
    "stainless": "stainless steel",
    "copper_alloy": "brass and copper",
    "titanium": "titanium",
    "plastic": "plastic",
    "other": "other-material",
}
#: Size classes of the largest part extent: 0 = under 20 mm, then doubling up to 1280 mm+.
SIZE_BINS = 8


@lru_cache(maxsize=512)
def material_family(material: str) -> str:
    """Material family ("aluminium", "steel", ...) of a JIS name or alias, via quote's catalog.

    Unknown names fall back to a guess from the JIS prefix, then "other"; matching must work
    for materials a shop lists even when the catalog does not know them yet.
    """
    try:
        from quote.catalogs import load_catalog, resolve_material

        fam = resolve_material(load_catalog(), material).family
        return fam if fam in FAMILIES else "other"
    except Exception:  # unknown material or catalog not installed: guess from the name
        pass
    m = material.strip().upper().replace(" ", "")
    if m.startswith("SUS"):
        return "stainless"
    if m.startswith(("TI", "TA")):
        return "titanium"
    if m.startswith(("POM", "PEEK", "MC", "PA", "PTFE", "ABS", "PC")):
        return "plastic"
    if m.startswith(("C1", "C2", "C3", "C4", "C5", "C6", "C7")):
        return "copper_alloy"
    if m.startswith("A") and len(m) > 1 and m[1].isdigit():
        return "aluminium"
    if m.startswith(("S", "SS", "SCM", "SKD", "SKH", "SUJ", "SPCC")):
        return "steel"
    return "other"


def size_bin(extents_mm: tuple[float, float, float]) -> int:
    """Size class of a part from its largest extent (mm), 0..SIZE_BINS-1."""
    big = max(extents_mm)
    return int(min(SIZE_BINS - 1, max(0, math.floor(math.log2(max(big, 1e-3) / 10.0)))))


@dataclass(frozen=True)
class DeclaredMachine:
    """A machine as the shop declares it (or as its MTConnect probe shows it).

    machine_class: "3-axis", "4-axis", "5-axis", "lathe" or "mill-turn". envelope_mm: travel
    (X, Y, Z) for mills, (swing, swing, turning length) for lathes, mm. tolerance_mm: the
    tightest +- tolerance the shop holds on it. hourly_rate_jpy: shop rate with operator.
    """

    machine_id: str
    machine_class: str
    envelope_mm: tuple[float, float, float]
    tolerance_mm: float = 0.02
    hourly_rate_jpy: float | None = None


@dataclass(frozen=True)
class QuoteRecord:
    """One RFQ a shop was shown, with what it answered and what came of it.

    extents_mm: part bounding box, mm. tolerance_mm: tightest +- mm asked. quantity: pieces.
    unit_price: the shop's quoted JPY per piece (None for a no-bid or not yet answered);
    default_unit_price: the platform default model's JPY per piece for the same request.
    created_at / answered_at: when the shop got it / answered (aware datetimes).
    status: "open", "won", "lost" or "no_bid". delivered_on_time: for won jobs once delivered.
    """

    quote_id: str
    shop: str
    material: str
    process: str
    extents_mm: tuple[float, float, float]
    tolerance_mm: float
    finish: str
    quantity: int
    unit_price: float | None
    default_unit_price: float | None
    created_at: datetime
    answered_at: datetime | None
    status: str
    delivered_on_time: bool | None = None

    def __post_init__(self) -> None:
        def bad(msg: str) -> InvalidQuoteRecord:
            return InvalidQuoteRecord(f"quote {self.quote_id!r}: {msg}")

        if self.status not in STATUSES:
            raise bad(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.process not in PROCESSES:
            raise bad(f"process must be one of {', '.join(PROCESSES)}, got {self.process!r}")
        if len(self.extents_mm) != 3 or not all(
            isinstance(v, int | float) and 0 < v < 1e5 for v in self.extents_mm
        ):
            raise bad(f"extents_mm must be three positive lengths in mm, got {self.extents_mm}")
        if not (0 < self.tolerance_mm < 10):
            raise bad(f"tolerance_mm must be in (0, 10) mm, got {self.tolerance_mm}")
        if (
            isinstance(self.quantity, bool)
            or not isinstance(self.quantity, int)
            or (self.quantity < 1)
        ):
            raise bad(f"quantity must be a whole number >= 1, got {self.quantity!r}")
        for name in ("unit_price", "default_unit_price"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int | float) and v > 0 and math.isfinite(v)):
                raise bad(f"{name} must be a positive JPY amount, got {v!r}")
        if self.status in ("won", "lost") and self.unit_price is None:
            raise bad(f"a {self.status} quote needs the quoted unit_price")
        if self.created_at.tzinfo is None or (
            self.answered_at is not None and self.answered_at.tzinfo is None
        ):
            raise bad("created_at and answered_at must be timezone-aware")
        if self.answered_at is not None and self.answered_at < self.created_at:
            raise bad("answered_at is before created_at")
        if self.delivered_on_time is not None and self.status != "won":
            raise bad("only a won quote can have a delivery outcome")

    @property
    def family(self) -> str:
        return material_family(self.material)

    @property
    def quoted(self) -> bool:
        return self.status != "no_bid" and self.unit_price is not None


@dataclass(frozen=True)
class ShopProfile:
    """Computed capability statistics of one shop (JSON via ``to_dict``).

    counts by process / material / family / finish are over quoted requests (not no-bids);
    experience maps "process/family" to (quoted, won); similar maps
    "process/family/size_bin" to (quoted, won). envelope_mm: largest part quoted, extents
    sorted descending, mm; declared_envelope_mm: largest machine travel, sorted descending.
    Rates are None until there is something to count.
    """

    shop: str
    n_requests: int
    n_quoted: int
    n_won: int
    n_lost: int
    n_no_bid: int
    n_delivered: int
    n_on_time: int
    win_rate: float | None
    response_rate: float | None
    on_time_rate: float | None
    price_level: float | None
    median_hours_to_quote: float | None
    processes: dict[str, int]
    materials: dict[str, int]
    families: dict[str, int]
    finishes: dict[str, int]
    experience: dict[str, tuple[int, int]]
    similar: dict[str, tuple[int, int]]
    envelope_mm: tuple[float, float, float] | None
    tightest_tolerance_mm: float | None
    tightest_won_tolerance_mm: float | None
    quantity_range: tuple[int, int] | None
    certifications: tuple[str, ...]
    machines: tuple[DeclaredMachine, ...]
    declared_envelope_mm: tuple[float, float, float] | None
    machine_classes: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["machines"] = [m.__dict__ for m in self.machines]
        d["experience"] = {k: list(v) for k, v in self.experience.items()}
        d["similar"] = {k: list(v) for k, v in self.similar.items()}
        return d


def _sorted_desc(v: tuple[float, float, float]) -> tuple[float, float, float]:
    a, b, c = sorted((float(x) for x in v), reverse=True)
    return (a, b, c)


@dataclass(frozen=True)
class RecordBucket:
    """Open, quoted records counted together (a shop's imported history rows).

    All the profile needs of such records: how many per (process, family, size bin, material,
    finish), their extremes, and how many carry a price ratio; the ratios themselves are read
    by rank only where the median needs them. So a shop's million history rows enter its
    profile as a few hundred buckets kept up to date at import (``bucket_of``, ``merge``).
    """

    process: str
    family: str
    size_bin: int
    material: str
    finish: str
    n: int
    n_ratio: int
    min_tolerance_mm: float
    min_quantity: int
    max_quantity: int
    max_extents_mm: tuple[float, float, float]

    @property
    def key(self) -> tuple[str, str, int, str, str]:
        return (self.process, self.family, self.size_bin, self.material, self.finish)

    def merge(self, other: RecordBucket) -> RecordBucket:
        if other.key != self.key:
            raise ValueError(f"buckets {self.key} and {other.key} differ")
        a, b = self.max_extents_mm, other.max_extents_mm
        return RecordBucket(
            *self.key,
            n=self.n + other.n,
            n_ratio=self.n_ratio + other.n_ratio,
            min_tolerance_mm=min(self.min_tolerance_mm, other.min_tolerance_mm),
            min_quantity=min(self.min_quantity, other.min_quantity),
            max_quantity=max(self.max_quantity, other.max_quantity),
            max_extents_mm=(max(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2])),
        )


def record_ratio(r: QuoteRecord) -> float | None:
    """The record's price ratio (quoted / default model), as the profile's median takes it."""
    if r.default_unit_price and r.unit_price:
        return r.unit_price / r.default_unit_price
    return None


def bucket_of(r: QuoteRecord) -> RecordBucket:
    """The one-record bucket of an open quoted record (``InvalidQuoteRecord`` otherwise)."""
    if r.status != "open" or not r.quoted or r.answered_at is not None:
        raise InvalidQuoteRecord(f"quote {r.quote_id!r}: only open, quoted, unanswered records")
    return RecordBucket(
        r.process,
        r.family,
        size_bin(r.extents_mm),
        r.material,
        r.finish,
        n=1,
        n_ratio=int(record_ratio(r) is not None),
        min_tolerance_mm=float(r.tolerance_mm),
        min_quantity=r.quantity,
        max_quantity=r.quantity,
        max_extents_mm=_sorted_desc(r.extents_mm),
    )


#: ``ratios_by_rank(lo, hi)``: the bucketed records' price ratios of ranks lo..hi (inclusive)
#: in ascending order.
RatiosByRank = Callable[[int, int], Sequence[float]]


@dataclass
class ProfileBuilder:
    """Folds quote records into a shop's profile, one at a time (see the module docstring)."""

    shop: str
    machines: tuple[DeclaredMachine, ...] = ()
    certifications: tuple[str, ...] = ()
    _records: dict[str, QuoteRecord] = field(default_factory=dict)
    _counts: Counter[str] = field(default_factory=Counter)
    _by: dict[str, Counter[str]] = field(default_factory=dict)
    _ratios: list[float] = field(default_factory=list)
    _hours: list[float] = field(default_factory=list)
    _buckets: list[RecordBucket] = field(default_factory=list)
    _ratios_by_rank: RatiosByRank | None = None

    def add_buckets(self, buckets: Iterable[RecordBucket], ratios_by_rank: RatiosByRank) -> None:
        """Add bucketed records (set once: their ratios are read through ``ratios_by_rank``)."""
        if self._ratios_by_rank is not None:
            raise ValueError("buckets were added already")
        self._buckets = list(buckets)
        self._ratios_by_rank = ratios_by_rank

    def fold(self, record: QuoteRecord) -> None:
        """Add ``record``, replacing an earlier version of the same quote_id."""
        if record.shop != self.shop:
            raise InvalidQuoteRecord(
                f"quote {record.quote_id!r} belongs to {record.shop!r}, not {self.shop!r}"
            )
        old = self._records.get(record.quote_id)
        if old is not None:
            self._apply(old, -1)
        self._records[record.quote_id] = record
        self._apply(record, +1)

    def fold_many(self, records: Iterable[QuoteRecord]) -> ProfileBuilder:
        for r in records:
            self.fold(r)
        return self

    def _bump(self, group: str, key: str, sign: int) -> None:
        c = self._by.setdefault(group, Counter())
        c[key] += sign
        if c[key] == 0:
            del c[key]

    def _apply(self, r: QuoteRecord, sign: int) -> None:
        c = self._counts
        c["requests"] += sign
        c[r.status] += sign
        if r.status == "won" and r.delivered_on_time is not None:
            c["delivered"] += sign
            c["on_time"] += sign * int(r.delivered_on_time)
        if r.answered_at is not None:
            h = (r.answered_at - r.created_at).total_seconds() / 3600.0
            _multiset(self._hours, h, sign)
        if not r.quoted:
            return
        c["quoted"] += sign
        fam = r.family
        sb = size_bin(r.extents_mm)
        self._bump("process", r.process, sign)
        self._bump("material", r.material, sign)
        self._bump("family", fam, sign)
        self._bump("finish", r.finish, sign)
        self._bump("exp_quoted", f"{r.process}/{fam}", sign)
        self._bump("sim_quoted", f"{r.process}/{fam}/{sb}", sign)
        self._bump("tolerance", repr(float(r.tolerance_mm)), sign)
        self._bump("quantity", str(r.quantity), sign)
        for axis, v in enumerate(_sorted_desc(r.extents_mm)):
            self._bump(f"extent{axis}", repr(float(v)), sign)
        if r.status == "won":
            self._bump("exp_won", f"{r.process}/{fam}", sign)
            self._bump("sim_won", f"{r.process}/{fam}/{sb}", sign)
            self._bump("won_tolerance", repr(float(r.tolerance_mm)), sign)
        if r.default_unit_price and r.unit_price:
            _multiset(self._ratios, r.unit_price / r.default_unit_price, sign)

    def _with_buckets(self) -> tuple[Counter[str], dict[str, Counter[str]]]:
        """Counts and group counters with the buckets added (extremes as one key each)."""
        c = Counter(self._counts)
        by = {k: Counter(v) for k, v in self._by.items()}
        for b in self._buckets:
            c["requests"] += b.n
            c["open"] += b.n
            c["quoted"] += b.n
            for group, key in (
                ("process", b.process),
                ("material", b.material),
                ("family", b.family),
                ("finish", b.finish),
                ("exp_quoted", f"{b.process}/{b.family}"),
                ("sim_quoted", f"{b.process}/{b.family}/{b.size_bin}"),
                ("tolerance", repr(float(b.min_tolerance_mm))),
                ("quantity", str(b.min_quantity)),
                ("quantity", str(b.max_quantity)),
                *((f"extent{i}", repr(float(v))) for i, v in enumerate(b.max_extents_mm)),
            ):
                by.setdefault(group, Counter())[key] += b.n if group in _COUNTED else 1
        return c, by

    def _price_level(self) -> float | None:
        n_hist = sum(b.n_ratio for b in self._buckets)
        if n_hist == 0 or self._ratios_by_rank is None:
            return _median(self._ratios)
        return _union_median(self._ratios, n_hist, self._ratios_by_rank)

    def profile(self) -> ShopProfile:
        c, by = self._with_buckets()

        def counter(name: str) -> dict[str, int]:
            return dict(sorted(by.get(name, Counter()).items()))

        def pairs(q: str, w: str) -> dict[str, tuple[int, int]]:
            quoted, won = by.get(q, Counter()), by.get(w, Counter())
            return {k: (quoted[k], won.get(k, 0)) for k in sorted(quoted)}

        def extreme(name: str, fn: Any) -> float | None:
            keys = by.get(name)
            return float(fn(float(k) for k in keys)) if keys else None

        decided = c["won"] + c["lost"]
        env = None
        if by.get("extent0"):
            env = tuple(extreme(f"extent{i}", max) for i in range(3))
        qty = None
        if by.get("quantity"):
            q = [int(k) for k in by["quantity"]]
            qty = (min(q), max(q))
        declared = None
        if self.machines:
            envs = [_sorted_desc(m.envelope_mm) for m in self.machines]
            declared = tuple(max(e[i] for e in envs) for i in range(3))
        classes = Counter(m.machine_class for m in self.machines)
        return ShopProfile(
            shop=self.shop,
            n_requests=c["requests"],
            n_quoted=c["quoted"],
            n_won=c["won"],
            n_lost=c["lost"],
            n_no_bid=c["no_bid"],
            n_delivered=c["delivered"],
            n_on_time=c["on_time"],
            win_rate=c["won"] / decided if decided else None,
            response_rate=c["quoted"] / c["requests"] if c["requests"] else None,
            on_time_rate=c["on_time"] / c["delivered"] if c["delivered"] else None,
            price_level=self._price_level(),
            median_hours_to_quote=_median(self._hours),
            processes=counter("process"),
            materials=counter("material"),
            families=counter("family"),
            finishes=counter("finish"),
            experience=pairs("exp_quoted", "exp_won"),
            similar=pairs("sim_quoted", "sim_won"),
            envelope_mm=env,  # type: ignore[arg-type]  # 3 values or None
            tightest_tolerance_mm=extreme("tolerance", min),
            tightest_won_tolerance_mm=extreme("won_tolerance", min),
            quantity_range=qty,
            certifications=tuple(sorted(self.certifications)),
            machines=self.machines,
            declared_envelope_mm=declared,  # type: ignore[arg-type]  # likewise
            machine_classes=dict(sorted(classes.items())),
        )


def build_profile(
    shop: str,
    quotes: Iterable[QuoteRecord],
    *,
    machines: Iterable[DeclaredMachine] = (),
    certifications: Iterable[str] = (),
) -> ShopProfile:
    """The profile of ``shop`` from all its quote records at once."""
    b = ProfileBuilder(shop, tuple(machines), tuple(certifications))
    return b.fold_many(quotes).profile()


def _multiset(values: list[float], v: float, sign: int) -> None:
    if sign > 0:
        bisect.insort(values, v)
    else:
        i = bisect.bisect_left(values, v)
        if i < len(values) and values[i] == v:
            values.pop(i)


# Group counters the buckets add their record counts to (the others hold extremes only).
_COUNTED = frozenset({"process", "material", "family", "finish", "exp_quoted", "sim_quoted"})


def _union_median(mem: list[float], n_hist: int, ratios_by_rank: RatiosByRank) -> float | None:
    """Median of ``mem`` (sorted) and ``n_hist`` more values read by rank, exactly.

    The union's middle ranks r lie within m = len(mem) ranks of the same rank among the other
    values, so ranks ``max(0, r1 - m - 1)`` to ``r2 + 1`` of those suffice: merged with
    ``mem``, element ``r - lo`` of the merge is the union's element of rank r.
    """
    m = len(mem)
    total = m + n_hist
    r1, r2 = (total - 1) // 2, total // 2
    lo, hi = max(0, r1 - m - 1), min(n_hist - 1, r2 + 1)
    window = list(ratios_by_rank(lo, hi))
    if len(window) != hi - lo + 1:
        raise ValueError(f"ratios_by_rank({lo}, {hi}) gave {len(window)} values")
    merged = sorted(window + mem)
    a, b = merged[r1 - lo], merged[r2 - lo]
    return a if r1 == r2 else 0.5 * (a + b)


def _median(values: list[float]) -> float | None:
    n = len(values)
    if n == 0:
        return None
    mid = n // 2
    return values[mid] if n % 2 else 0.5 * (values[mid - 1] + values[mid])
