"""Lead time: parts add up, tiers are ordered, business days skip weekends and holidays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from quote.catalogs import Catalog, load_catalog
from quote.leadtime import JP_HOLIDAYS, add_business_days, lead_time


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_parts_add_up_and_grow_with_machine_hours(catalog: Catalog) -> None:
    days = []
    for hours in (0.5, 7.0, 8.0, 30.0, 200.0):
        lt = lead_time(
            machine_hours=hours, inspection_hours=1.0, finish_days=0, unit_price=1000.0,
            catalog=catalog,
        )  # fmt: skip
        assert sum(lt.parts.values()) == lt.days
        assert set(lt.parts) == {"queue", "machining", "finishing", "inspection", "shipping"}
        days.append(lt.days)
    assert days == sorted(days) and days[0] < days[-1]
    hpd = catalog.leadtime.hours_per_day
    lt = lead_time(machine_hours=3 * hpd + 0.1, inspection_hours=0.5, finish_days=0,
                   unit_price=1.0, catalog=catalog)  # fmt: skip
    assert lt.parts["machining"] == 4


def test_finishing_and_long_inspection_add_days(catalog: Catalog) -> None:
    kw = dict(machine_hours=4.0, unit_price=1000.0, catalog=catalog)
    base = lead_time(inspection_hours=1.0, finish_days=0, **kw)  # type: ignore[arg-type]
    finished = lead_time(inspection_hours=1.0, finish_days=3, **kw)  # type: ignore[arg-type]
    inspected = lead_time(inspection_hours=12.0, finish_days=0, **kw)  # type: ignore[arg-type]
    assert finished.days == base.days + 3
    assert base.parts["inspection"] == 0  # an hour of inspection fits the last machining day
    assert inspected.days > base.days


def test_tiers_are_ordered_in_days_and_price(catalog: Catalog) -> None:
    for hours, finish in ((1.0, 0), (20.0, 3), (300.0, 5)):
        lt = lead_time(machine_hours=hours, inspection_hours=2.5, finish_days=finish,
                       unit_price=12345.0, catalog=catalog)  # fmt: skip
        express, standard, economy = lt.tiers
        assert (express.name, standard.name, economy.name) == ("express", "standard", "economy")
        assert 1 <= express.days < standard.days < economy.days
        assert express.unit_price > standard.unit_price == 12345.0 > economy.unit_price
    # A simple part can be rushed out in two days (DOMAIN.md: 24-48 h rush).
    fast = lead_time(machine_hours=2.0, inspection_hours=0.5, finish_days=0, unit_price=1.0,
                     catalog=catalog)  # fmt: skip
    assert fast.tiers[0].days <= 2


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2025, 6, 2), 0, date(2025, 6, 2)),  # Monday
        (date(2025, 6, 2), 4, date(2025, 6, 6)),  # to Friday
        (date(2025, 6, 6), 1, date(2025, 6, 9)),  # Friday + 1 -> Monday
        (date(2025, 6, 7), 0, date(2025, 6, 9)),  # Saturday counts from Monday
        (date(2025, 6, 7), 1, date(2025, 6, 10)),
        (date(2025, 6, 2), 10, date(2025, 6, 16)),
        (date(2025, 6, 9), -1, date(2025, 6, 6)),
    ],
)
def test_add_business_days(start: date, days: int, expected: date) -> None:
    assert add_business_days(start, days) == expected


def test_add_business_days_skips_japanese_holidays() -> None:
    # Golden Week 2025: Tue 29 Apr is Showa Day; 3-6 May are holidays (6 May substitute).
    start = date(2025, 4, 28)
    assert add_business_days(start, 1) == date(2025, 4, 29)
    assert add_business_days(start, 1, JP_HOLIDAYS) == date(2025, 4, 30)
    assert add_business_days(date(2025, 5, 2), 1, JP_HOLIDAYS) == date(2025, 5, 7)
    assert all(d.year in (2025, 2026) for d in JP_HOLIDAYS)


def _one_day_at_a_time(start: date, days: int, holidays: frozenset[date]) -> date:
    """add_business_days by its definition: step a calendar day at a time."""
    step = 1 if days >= 0 else -1
    d = start
    while d.weekday() >= 5 or d in holidays:
        d += timedelta(days=step)
    for _ in range(abs(days)):
        d += timedelta(days=step)
        while d.weekday() >= 5 or d in holidays:
            d += timedelta(days=step)
    return d


def test_add_business_days_matches_stepping_day_by_day() -> None:
    # Whole weeks are jumped at once when there are no holidays: every weekday start, both
    # directions, across month and year ends.
    for offset in range(21):
        start = date(2025, 12, 15) + timedelta(days=offset)
        for days in range(-26, 27):
            for holidays in (frozenset(), JP_HOLIDAYS):
                expected = _one_day_at_a_time(start, days, holidays)
                assert add_business_days(start, days, holidays) == expected, (start, days)
