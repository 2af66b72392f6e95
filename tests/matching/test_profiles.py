"""Capability profiles: numbers checked by hand, incremental folding equals a rebuild."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from matching.errors import InvalidQuoteRecord
from matching.profiles import (
    DeclaredMachine,
    ProfileBuilder,
    QuoteRecord,
    RecordBucket,
    _median,
    _union_median,
    bucket_of,
    build_profile,
    material_family,
    record_ratio,
    size_bin,
)

T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)


def q(qid: str, material: str, process: str, ext: tuple, tol: float, finish: str, qty: int,
      price: float | None, default: float, hours: float, status: str,
      on_time: bool | None = None) -> QuoteRecord:  # fmt: skip
    return QuoteRecord(
        qid, "s1", material, process, ext, tol, finish, qty, price, default,
        T0, T0 + timedelta(hours=hours), status, on_time,
    )  # fmt: skip


QUOTES = [
    q("q1", "A5052", "mill", (100, 50, 20), 0.05, "anodize", 10, 1100, 1000, 2, "won", True),
    q("q2", "A6061", "mill", (60, 120, 25), 0.02, "none", 50, 900, 1000, 4, "lost"),
    q("q3", "SUS304", "lathe", (80, 30, 30), 0.01, "none", 5, None, 3000, 1, "no_bid"),
    q("q4", "S45C", "mill", (50, 300, 200), 0.1, "none", 200, 2400, 2000, 10, "won", False),
    q("q5", "A5052", "mill", (90, 40, 20), 0.05, "none", 20, 950, 1000, 6, "open"),
]
MACHINES = (
    DeclaredMachine("m1", "5-axis", (650, 650, 500), 0.01),
    DeclaredMachine("m2", "3-axis", (500, 1000, 500), 0.02),
)


def test_profile_numbers_by_hand() -> None:
    p = build_profile("s1", QUOTES, machines=MACHINES, certifications=["ISO9001"])
    assert (p.n_requests, p.n_quoted, p.n_won, p.n_lost, p.n_no_bid) == (5, 4, 2, 1, 1)
    assert p.win_rate == pytest.approx(2 / 3)  # won / (won + lost); open and no-bid excluded
    assert p.response_rate == pytest.approx(4 / 5)
    assert (p.n_delivered, p.n_on_time, p.on_time_rate) == (2, 1, 0.5)
    # unit / default: 1.1, 0.9, 1.2, 0.95 -> median of 4 = (0.95 + 1.1) / 2
    assert p.price_level == pytest.approx(1.025)
    assert p.median_hours_to_quote == 4.0  # of 2, 4, 1, 10, 6 h
    assert p.processes == {"mill": 4}  # the no-bid lathe job is not a capability
    assert p.materials == {"A5052": 2, "A6061": 1, "S45C": 1}
    assert p.families == {"aluminium": 3, "steel": 1}
    assert p.finishes == {"anodize": 1, "none": 3}
    assert p.experience == {"mill/aluminium": (3, 1), "mill/steel": (1, 1)}
    # largest extents 100, 120, 90 mm -> size bin 3 (80-160 mm); 300 mm -> bin 4
    assert p.similar == {"mill/aluminium/3": (3, 1), "mill/steel/4": (1, 1)}
    assert p.envelope_mm == (300.0, 200.0, 50.0)  # per sorted axis, the largest quoted
    assert p.tightest_tolerance_mm == 0.02 and p.tightest_won_tolerance_mm == 0.05
    assert p.quantity_range == (10, 200)
    assert p.declared_envelope_mm == (1000.0, 650.0, 500.0)
    assert p.machine_classes == {"3-axis": 1, "5-axis": 1}
    assert p.certifications == ("ISO9001",)
    assert p.to_dict()["experience"]["mill/steel"] == [1, 1]


def test_incremental_folding_matches_a_rebuild_and_replaces_outcomes() -> None:
    b = ProfileBuilder("s1", MACHINES)
    for rec in reversed(QUOTES):
        b.fold(rec)
    assert b.profile() == build_profile("s1", QUOTES, machines=MACHINES)
    # q5 is awarded later, then delivered on time: the newer version replaces the old
    b.fold(replace(QUOTES[4], status="won"))
    b.fold(replace(QUOTES[4], status="won", delivered_on_time=True))
    p = b.profile()
    assert (p.n_requests, p.n_won, p.n_lost) == (5, 3, 1)
    assert p.win_rate == pytest.approx(0.75)
    assert (p.n_delivered, p.n_on_time) == (3, 2)
    assert p.experience["mill/aluminium"] == (3, 2)
    assert p.price_level == pytest.approx(1.025)  # same prices, counted once


def test_empty_profile_has_no_rates() -> None:
    p = build_profile("new", [], machines=MACHINES)
    assert p.win_rate is None and p.on_time_rate is None and p.price_level is None
    assert p.envelope_mm is None and p.n_requests == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"status": "maybe"}, "status"),
        ({"process": "laser"}, "process"),
        ({"extents_mm": (10, 0, 5)}, "extents_mm"),
        ({"quantity": 0}, "quantity"),
        ({"status": "won", "unit_price": None}, "needs the quoted unit_price"),
        ({"answered_at": T0 - timedelta(hours=1)}, "before created_at"),
        ({"status": "lost", "delivered_on_time": True}, "only a won quote"),
    ],
)
def test_invalid_records_are_rejected(change: dict, words: str) -> None:
    with pytest.raises(InvalidQuoteRecord, match=words):
        replace(QUOTES[1], **change)
    with pytest.raises(InvalidQuoteRecord, match="belongs to"):
        ProfileBuilder("other").fold(QUOTES[0])


def test_material_families_and_size_bins() -> None:
    assert material_family("A5052") == "aluminium"
    assert material_family("sus304") == "stainless"
    assert material_family("C3604") == "copper_alloy"
    assert material_family("SUS630") == "stainless"  # not in the catalog: guessed from JIS
    assert material_family("unobtainium") == "other"
    assert [size_bin((x, 1, 1)) for x in (5, 19.9, 20, 100, 5000)] == [0, 0, 1, 3, 7]


def _history_record(i: int, rng: np.random.Generator, shop: str = "s1") -> QuoteRecord:
    """An open, quoted, unanswered record (an imported history row)."""
    mats = ("A5052", "A6061", "SUS304", "S45C", "C3604", "POM")
    ext = tuple(float(v) for v in rng.choice([12.5, 40.0, 80.0, 160.0, 700.0], size=3))
    price = float(rng.choice([900.0, 1000.0, 1100.0, 1234.5]))
    default = None if i % 7 == 0 else float(rng.choice([1000.0, 1200.0]))
    return QuoteRecord(
        f"h{i}", shop, str(rng.choice(mats)), str(rng.choice(["mill", "lathe"])), ext,
        float(rng.choice([0.01, 0.02, 0.05, 0.1])), str(rng.choice(["none", "anodize"])),
        int(rng.integers(1, 500)), price, default, T0, None, "open",
    )  # fmt: skip


@pytest.mark.parametrize("n_hist", [0, 1, 2, 7, 40, 333])
def test_buckets_give_the_profile_of_the_full_fold(n_hist: int) -> None:
    rng = np.random.default_rng(n_hist)
    hist = [_history_record(i, rng) for i in range(n_hist)]
    full = build_profile("s1", QUOTES + hist, machines=MACHINES, certifications=["ISO9001"])

    buckets: dict[tuple[str, str, int, str, str], RecordBucket] = {}
    for r in hist:
        b = bucket_of(r)
        buckets[b.key] = buckets[b.key].merge(b) if b.key in buckets else b
    ratios = sorted(x for r in hist if (x := record_ratio(r)) is not None)
    asked: list[tuple[int, int]] = []

    def by_rank(lo: int, hi: int) -> list[float]:
        asked.append((lo, hi))
        return ratios[lo : hi + 1]

    builder = ProfileBuilder("s1", MACHINES, ("ISO9001",)).fold_many(QUOTES)
    builder.add_buckets(buckets.values(), by_rank)
    assert builder.profile() == full  # the median exactly, not within a tolerance
    # only a window around the middle is read, not every ratio
    assert all(hi - lo + 1 <= len(QUOTES) + 4 for lo, hi in asked)


@pytest.mark.parametrize("m,n", [(0, 1), (1, 1), (3, 10), (10, 3), (5, 5), (1, 1000)])
def test_union_median_is_exact_for_any_split(m: int, n: int) -> None:
    rng = np.random.default_rng(m * 1000 + n)
    values = list(rng.choice([0.5, 0.9, 1.0, 1.1, 2.0], size=m + n))  # ties on purpose
    mem, other = sorted(values[:m]), sorted(values[m:])
    got = _union_median(mem, n, lambda lo, hi: other[lo : hi + 1])
    assert got == _median(sorted(values))


def test_a_bucket_holds_only_open_quoted_records() -> None:
    with pytest.raises(InvalidQuoteRecord):
        bucket_of(QUOTES[0])  # won
    b = bucket_of(replace(QUOTES[4], answered_at=None))
    with pytest.raises(ValueError):
        b.merge(bucket_of(replace(QUOTES[4], answered_at=None, material="SUS304")))
