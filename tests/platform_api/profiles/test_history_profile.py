"""Imported history enters a profile as stored buckets read at import, and gives the profile that
reading every row one by one gives: same counts, extremes and median price level."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col, delete, select, update

from platform_api.caches.refresher import refresh_shop
from platform_api.db.models import HistoryRow, ShopHistoryStats, ShopRatioBin
from platform_api.jobs.worker import JobWorker
from platform_api.orgs import repository as orgs_repository
from platform_api.profiles import history, reference
from platform_api.profiles import service as profiles_service
from platform_api.shops.jobs import HANDLERS
from tests.platform_api.factories import csv_bytes, history_dataset, history_zip
from tests.platform_api.market import machine_body, make_shop


def _profile(ctx: Any, shop_id: str) -> dict[str, Any]:
    with ctx.db.session() as session:
        org = orgs_repository.get_org_of_kind(session, shop_id, "shop")
        profile, meta = profiles_service.current_profile(session, org=org, models=ctx.models)
    return {**profiles_service.profile_to_dict(profile), "sources": meta["sources"]}


def test_bucketed_history_gives_the_one_by_one_profile(client: TestClient, ctx: Any) -> None:
    shop, _ = make_shop(ctx, client, "Historic", machines=(machine_body("3-axis"),))
    rows, files = history_dataset(4, 9, seed=11)
    r = client.post(
        f"/v1/shops/{shop.id}/history",
        files={"history": ("h.csv", csv_bytes(rows)), "parts": ("p.zip", history_zip(files))},
        headers=shop.headers,
    )
    assert r.status_code == 202, r.text
    JobWorker(ctx, HANDLERS).run_until_empty()
    version = reference.default_version(ctx.models)
    assert version
    with ctx.db.session() as session:
        read = session.exec(select(HistoryRow).where(HistoryRow.org_id == shop.id)).all()
        stats = session.exec(
            select(ShopHistoryStats).where(ShopHistoryStats.org_id == shop.id)
        ).all()
    assert len(read) == 36 and all(h.ref_model == version for h in read)
    assert sum(s.n for s in stats) == sum(1 for h in read if h.process is not None) > 30
    with ctx.db.session() as session:
        bins = session.exec(select(ShopRatioBin).where(ShopRatioBin.org_id == shop.id)).all()
    assert sum(b.n for b in bins) == sum(1 for h in read if h.price_ratio is not None) > 20
    bucketed = _profile(ctx, shop.id)
    assert bucketed["n_requests"] == bucketed["sources"]["history_rows"] > 30
    assert bucketed["price_level"] is not None

    # forget what the import read: the profile reads every row one by one, as before 0005
    with ctx.db.session() as session:
        for table in (ShopHistoryStats, ShopRatioBin):
            session.exec(delete(table).where(col(table.org_id) == shop.id))
        session.exec(
            update(HistoryRow).where(col(HistoryRow.org_id) == shop.id).values(ref_model=None)
        )
    assert _profile(ctx, shop.id) == bucketed

    # the refresher reads them again into buckets: still the same profile
    report = refresh_shop(ctx.db, shop.id, models=ctx.models)  # this shop: others may share the DB
    assert report.history_rows == 36 and report.failed == []
    with ctx.db.session() as session:
        again = session.exec(
            select(ShopHistoryStats).where(ShopHistoryStats.org_id == shop.id)
        ).all()
    assert sorted((s.process, s.material, s.n) for s in again) == sorted(
        (s.process, s.material, s.n) for s in stats
    )
    assert _profile(ctx, shop.id) == bucketed
    assert refresh_shop(ctx.db, shop.id, models=ctx.models).history_rows == 0


def test_ratio_bins_hold_what_their_index_range_reads() -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    values = list(np.exp(rng.normal(0, 3, 20_000))) + [0.0, 1e-9, 1e9, 1.0]
    values += list(history.RATIO_EDGES[::50])  # exactly on edges
    for r in values:
        b = history.ratio_bin(float(r))
        assert b == 0 or history.RATIO_EDGES[b - 1] <= r
        assert b == len(history.RATIO_EDGES) or r < history.RATIO_EDGES[b]
