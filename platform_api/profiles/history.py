"""A shop's imported history as its profile counts it, read once per row, kept in aggregate.

Each history row is an open, quoted record whose process, size and tolerance come from the
default model's quote of its part and spec (``reference.Reference``). That quote is taken once,
when the row is imported (or later by the cache refresher, for rows imported before or read by
an older default model), and stored on the row; the row then adds to its shop's
``shop_history_stats`` bucket (``matching.profiles.RecordBucket``) in the same transaction. A
profile reads the buckets (a few hundred rows) and, for the median price level, only the few
price ratios around the middle rank (an index range), so a shop with a million rows gets its
profile in milliseconds, and the result is the one the full fold of every row gives.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, insert
from sqlmodel import Session, col, delete, select

from matching.profiles import RatiosByRank, RecordBucket, bucket_of, record_ratio
from platform_api.db.models import HistoryRow, Part, ShopHistoryStats, ShopRatioBin
from platform_api.db.upsert import insert_for
from platform_api.profiles import reference

#: Rows the cache refresher reads again per shop and pass (rows of an older default model).
REREAD_BATCH = 20_000
#: Edges of the price-ratio bins: 1 % wide on a log scale from e^-7 to e^7 (bin 0 and the last
#: are open-ended). A ratio r is in bin ``bisect_right(RATIO_EDGES, r)``; the same floats bound
#: the index range that reads a bin back, so a bin's count and its rows always agree.
RATIO_EDGES: tuple[float, ...] = tuple(math.exp(k / 100) for k in range(-700, 701))


def ratio_bin(r: float) -> int:
    return bisect.bisect_right(RATIO_EDGES, r)


def read_rows(
    rows: Iterable[HistoryRow],
    part_id: str,
    analysis: dict[str, Any],
    *,
    ref: reference.Reference,
    version: str,
) -> list[RecordBucket]:
    """Fill each row's profile columns from its default quote; the one-row buckets to add.

    A row whose quote failed or whose record the profile cannot use is marked read
    (``ref_model`` set, ``process`` None) and skipped; with no default model the rows stay
    unread (``ref_model`` None) and are read later.
    """
    out = []
    for h in rows:
        spec = {"material": h.material, "quantity": h.quantity, "tolerance": h.tolerance,
                "finish": h.finish}  # fmt: skip
        key = f"{part_id}|{h.material}|{h.quantity}|{h.tolerance}|{h.finish}"
        r = ref.quote(key, analysis, spec)
        if r is None:
            continue  # no default model: read later
        h.ref_model, h.process = version, None
        h.ext0_mm = h.ext1_mm = h.ext2_mm = h.tolerance_mm = None
        h.ref_unit_price = h.price_ratio = None
        if "error" in r:
            continue
        record = reference.make_record(
            f"h:{h.id}", h.org_id, h.material, r["process"], tuple(r["ext"]), r["tol"],
            h.finish or "none", h.quantity, h.unit_price, r["price"], h.created_at, None,
            "open", None,
        )  # fmt: skip
        if record is None:
            continue
        bucket = bucket_of(record)
        h.process = record.process
        h.ext0_mm, h.ext1_mm, h.ext2_mm = bucket.max_extents_mm
        h.tolerance_mm = float(record.tolerance_mm)
        h.ref_unit_price = record.default_unit_price
        h.price_ratio = record_ratio(record)
        out.append(bucket)
    return out


def merge(buckets: Iterable[RecordBucket]) -> list[RecordBucket]:
    by: dict[tuple[str, str, int, str, str], RecordBucket] = {}
    for b in buckets:
        old = by.get(b.key)
        by[b.key] = b if old is None else old.merge(b)
    return list(by.values())


def insert_rows(session: Session, rows: Sequence[HistoryRow]) -> None:
    """Store read rows in one executemany (a million ORM objects would take minutes)."""
    if rows:
        session.execute(insert(HistoryRow), [h.model_dump() for h in rows])


def add_ratios(session: Session, *, org_id: str, version: str, ratios: Iterable[float]) -> None:
    """Count ``ratios`` into the shop's ratio bins (insert or add; one executemany)."""
    counts = Counter(ratio_bin(r) for r in ratios)
    if not counts:
        return
    t = ShopRatioBin.__table__  # type: ignore[attr-defined]  # SQLModel adds it at class creation
    stmt = insert_for(session, t)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["org_id", "ref_model", "bin"], set_={"n": t.c.n + stmt.excluded.n}
        ),
        [
            {"org_id": org_id, "ref_model": version, "bin": b, "n": n}
            for b, n in sorted(counts.items())
        ],
    )


def read_ratios(rows: Iterable[HistoryRow], version: str) -> list[float]:
    """The price ratios of ``rows`` read by ``version`` (what ``add_ratios`` counts)."""
    return [h.price_ratio for h in rows if h.ref_model == version and h.price_ratio is not None]


def add_buckets(
    session: Session, *, org_id: str, version: str, buckets: Iterable[RecordBucket]
) -> None:
    """Add ``buckets`` to the shop's stored counts (insert or combine; one executemany)."""
    rows = [
        {
            "org_id": org_id,
            "ref_model": version,
            "process": b.process,
            "family": b.family,
            "size_bin": b.size_bin,
            "material": b.material,
            "finish": b.finish,
            "n": b.n,
            "n_ratio": b.n_ratio,
            "min_tolerance_mm": b.min_tolerance_mm,
            "min_quantity": b.min_quantity,
            "max_quantity": b.max_quantity,
            "max_ext0_mm": b.max_extents_mm[0],
            "max_ext1_mm": b.max_extents_mm[1],
            "max_ext2_mm": b.max_extents_mm[2],
        }  # fmt: skip
        for b in merge(buckets)
    ]
    if not rows:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    least, greatest = (func.least, func.greatest) if postgres else (func.min, func.max)
    t = ShopHistoryStats.__table__  # type: ignore[attr-defined]  # SQLModel adds it at class creation
    stmt = insert_for(session, t)
    ex = stmt.excluded
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[
                "org_id",
                "ref_model",
                "process",
                "family",
                "size_bin",
                "material",
                "finish",
            ],
            set_={
                "n": t.c.n + ex.n,
                "n_ratio": t.c.n_ratio + ex.n_ratio,
                "min_tolerance_mm": least(t.c.min_tolerance_mm, ex.min_tolerance_mm),
                "min_quantity": least(t.c.min_quantity, ex.min_quantity),
                "max_quantity": greatest(t.c.max_quantity, ex.max_quantity),
                "max_ext0_mm": greatest(t.c.max_ext0_mm, ex.max_ext0_mm),
                "max_ext1_mm": greatest(t.c.max_ext1_mm, ex.max_ext1_mm),
                "max_ext2_mm": greatest(t.c.max_ext2_mm, ex.max_ext2_mm),
            },
        ),  # fmt: skip
        rows,
    )


def buckets(session: Session, *, org_id: str, version: str) -> list[RecordBucket]:
    rows = session.exec(
        select(ShopHistoryStats).where(
            col(ShopHistoryStats.org_id) == org_id, col(ShopHistoryStats.ref_model) == version
        )
    ).all()
    return [
        RecordBucket(
            r.process,
            r.family,
            r.size_bin,
            r.material,
            r.finish,
            n=r.n,
            n_ratio=r.n_ratio,
            min_tolerance_mm=r.min_tolerance_mm,
            min_quantity=r.min_quantity,
            max_quantity=r.max_quantity,
            max_extents_mm=(r.max_ext0_mm, r.max_ext1_mm, r.max_ext2_mm),
        )  # fmt: skip
        for r in rows
    ]


def ratios_by_rank(session: Session, *, org_id: str, version: str) -> RatiosByRank:
    """Reads the shop's stored price ratios of ranks lo..hi: the bins say which bins hold those
    ranks, and only those bins' ratios are read (an index range)."""

    def read(lo: int, hi: int) -> Sequence[float]:
        bins = session.exec(
            select(ShopRatioBin.bin, ShopRatioBin.n)
            .where(
                col(ShopRatioBin.org_id) == org_id,
                col(ShopRatioBin.ref_model) == version,
                col(ShopRatioBin.n) > 0,
            )
            .order_by(col(ShopRatioBin.bin))
        ).all()
        first = last = None
        start = seen = 0
        for b, n in bins:
            if first is None and seen + n > lo:
                first, start = b, seen
            if seen + n > hi:
                last = b
                break
            seen += n
        if first is None or last is None:
            raise ValueError(f"ranks {lo}..{hi} beyond the {seen} counted ratios")
        ratio = col(HistoryRow.price_ratio)
        stmt = select(HistoryRow.price_ratio).where(
            col(HistoryRow.org_id) == org_id,
            col(HistoryRow.ref_model) == version,
            ratio.is_not(None),
        )
        if first > 0:
            stmt = stmt.where(ratio >= RATIO_EDGES[first - 1])
        if last < len(RATIO_EDGES):
            stmt = stmt.where(ratio < RATIO_EDGES[last])
        stmt = stmt.order_by(ratio).offset(lo - start).limit(hi - lo + 1)
        return [float(v) for v in session.exec(stmt).all() if v is not None]

    return read


def _unread(org_id: str, version: str) -> list[Any]:
    """Conditions of rows not read by ``version``: no model yet, or an older one (each an
    index range on (org_id, ref_model, ...), so a shop's read rows are never scanned)."""
    org = col(HistoryRow.org_id) == org_id
    ref = col(HistoryRow.ref_model)
    return [and_(org, ref.is_(None)), and_(org, ref < version), and_(org, ref > version)]


def count_unread(session: Session, *, org_id: str, version: str) -> int:
    return sum(
        int(session.exec(select(func.count()).select_from(HistoryRow).where(w)).one())
        for w in _unread(org_id, version)
    )


def unread_rows(
    session: Session, *, org_id: str, version: str, limit: int | None = None
) -> list[tuple[HistoryRow, Part]]:
    """History rows not read by the default model ``version`` (none yet, or an older one).

    Counted first (an index range) and joined to their parts only when there are any (the
    usual case is none), without an ORDER BY that could send the planner down the primary key.
    """
    out: list[tuple[HistoryRow, Part]] = []
    for where in _unread(org_id, version):
        if limit is not None and len(out) >= limit:
            break
        if not session.exec(select(func.count()).select_from(HistoryRow).where(where)).one():
            continue
        stmt = select(HistoryRow, Part).join(Part, col(Part.id) == col(HistoryRow.part_id))
        stmt = stmt.where(where)
        if limit is not None:
            stmt = stmt.limit(limit - len(out))
        out += [(h, p) for h, p in session.exec(stmt).all()]
    out.sort(key=lambda hp: hp[0].id)
    return out


def reread(
    session: Session, *, org_id: str, ref: reference.Reference, version: str, limit: int
) -> int:
    """Read up to ``limit`` rows of an older (or no) default model again; how many were read.

    Counts of other model versions are dropped first: no profile reads them any more.
    """
    if not version:
        return 0
    for table in (ShopHistoryStats, ShopRatioBin):
        session.exec(
            delete(table).where(col(table.org_id) == org_id, col(table.ref_model) != version)
        )
    todo = unread_rows(session, org_id=org_id, version=version, limit=limit)
    by_part: dict[str, tuple[Part, list[HistoryRow]]] = {}
    for h, p in todo:
        by_part.setdefault(p.id, (p, []))[1].append(h)
    read = 0
    for part, rows in by_part.values():
        found = read_rows(rows, part.id, part.analysis, ref=ref, version=version)
        add_buckets(session, org_id=org_id, version=version, buckets=found)
        add_ratios(session, org_id=org_id, version=version, ratios=read_ratios(rows, version))
        read += sum(1 for h in rows if h.ref_model == version)
    return read
