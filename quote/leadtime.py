"""Lead time in business days, the delivery tiers, and business-day arithmetic.

Standard lead time = queue + machining (machine hours over a shift day) + surface finishing
(the finishing house's days) + inspection (when it does not fit into the last machining day)
+ shipping. Express jumps the queue, runs two shifts and pays the finishing house to hurry;
economy waits for idle capacity. Constants and their sources: data/catalogs/leadtime.yaml.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from quote.catalogs import Catalog
from quote.types import TierEstimate

# Japanese public holidays (Cabinet Office, "国民の祝日について"), including substitute holidays.
# Optional: pass them to add_business_days(holidays=JP_HOLIDAYS) to skip them.
JP_HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in (
        "2025-01-01", "2025-01-13", "2025-02-11", "2025-02-23", "2025-02-24", "2025-03-20",
        "2025-04-29", "2025-05-03", "2025-05-04", "2025-05-05", "2025-05-06", "2025-07-21",
        "2025-08-11", "2025-09-15", "2025-09-23", "2025-10-13", "2025-11-03", "2025-11-23",
        "2025-11-24",
        "2026-01-01", "2026-01-12", "2026-02-11", "2026-02-23", "2026-03-20", "2026-04-29",
        "2026-05-03", "2026-05-04", "2026-05-05", "2026-05-06", "2026-07-20", "2026-08-11",
        "2026-09-21", "2026-09-22", "2026-09-23", "2026-10-12", "2026-11-03", "2026-11-23",
    )
)  # fmt: skip


@dataclass(frozen=True)
class LeadTime:
    """days: standard tier, business days. parts: named business days that add up to days
    (queue, machining, finishing, inspection, shipping). tiers: express, standard, economy."""

    days: int
    parts: dict[str, float]
    tiers: tuple[TierEstimate, ...]


def lead_time(
    *,
    machine_hours: float,
    inspection_hours: float,
    finish_days: int,
    unit_price: float,
    catalog: Catalog,
) -> LeadTime:
    """Lead time of one batch and its three delivery tiers.

    Parameters
    ----------
    machine_hours
        Machine time of the whole batch (setup + cycle time x quantity), h.
    inspection_hours
        Inspection of the whole batch, h.
    finish_days
        Business days the surface finish adds (Finish.added_days); 0 for none.
    unit_price
        Standard-tier unit price, JPY; the tiers scale it by their price factors.

    Returns
    -------
    LeadTime
        Standard days and parts; tiers ordered express, standard, economy, with days
        express <= standard < economy and whole-yen unit prices.
    """
    p = catalog.leadtime
    mh = max(0.0, machine_hours) if math.isfinite(machine_hours) else 0.0
    ih = max(0.0, inspection_hours) if math.isfinite(inspection_hours) else 0.0
    fd = max(0, int(finish_days))
    # A short inspection is done on the last machining day.
    same_day = ih <= p.inspection_same_day_h

    parts = {
        "queue": float(p.queue_days),
        "machining": float(max(1, math.ceil(mh / p.hours_per_day))),
        "finishing": float(fd),
        "inspection": float(0 if same_day else math.ceil(ih / p.hours_per_day)),
        "shipping": float(p.shipping_days),
    }
    standard = int(round(sum(parts.values())))
    express = int(
        round(
            p.express_queue_days
            + max(1, math.ceil(mh / p.express_hours_per_day))
            + (max(1, fd - int(p.express_finishing_days_saved)) if fd > 0 else 0)
            + (0 if same_day else math.ceil(ih / p.express_hours_per_day))
            + p.shipping_days
        )
    )
    express = min(express, standard)
    economy = standard + int(round(p.economy_extra_days))
    tiers = (
        TierEstimate("express", express, float(round(unit_price * p.express_price_factor))),
        TierEstimate("standard", standard, float(round(unit_price))),
        TierEstimate("economy", economy, float(round(unit_price * p.economy_price_factor))),
    )
    return LeadTime(days=standard, parts=parts, tiers=tiers)


def add_business_days(start: date, days: int, holidays: Iterable[date] = ()) -> date:
    """The date ``days`` business days after ``start`` (Mon-Fri, skipping ``holidays``).

    ``days`` = 0 gives ``start`` itself when it is a business day, else the next one. A start on
    a weekend counts from the next business day, as an order placed on Saturday is worked from
    Monday. Negative ``days`` count backwards.
    """
    hol = holidays if isinstance(holidays, frozenset | set) else frozenset(holidays)
    step = 1 if days >= 0 else -1
    d = start
    while d.weekday() >= 5 or d in hol:
        d += timedelta(days=step)
    remaining = abs(days)
    if not hol:
        # From a business day, every 5 business days are one calendar week.
        weeks, remaining = divmod(remaining, 5)
        d += timedelta(days=7 * weeks * step)
    while remaining > 0:
        d += timedelta(days=step)
        if d.weekday() < 5 and d not in hol:
            remaining -= 1
    return d
