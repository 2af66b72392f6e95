"""History imports and training as database jobs: progress, errors by line, restarts, claims."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from platform_api.db.models import HistoryRow, Job, Organization
from platform_api.db.types import utcnow
from platform_api.jobs import repository as jobs_repository
from platform_api.jobs.worker import JobWorker
from platform_api.shops import jobs as shop_jobs
from platform_api.shops.jobs import HANDLERS
from tests.platform_api.factories import (
    Org,
    csv_bytes,
    history_dataset,
    history_zip,
    make_org,
    stl_box,
)


def _post_history(client: TestClient, shop: Org, rows: list[list[str]], files: dict[str, bytes]):  # type: ignore[no-untyped-def]
    return client.post(
        f"/v1/shops/{shop.id}/history",
        files={
            "history": ("history.csv", csv_bytes(rows), "text/csv"),
            "parts": ("parts.zip", history_zip(files), "application/zip"),
        },
        headers=shop.headers,
    )


def _job(client: TestClient, shop: Org, job_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/jobs/{job_id}", headers=shop.headers)
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(
    client: TestClient, ctx: Any, data_dir: Path
) -> None:
    shop = make_org(ctx, "shop")
    rows, files = history_dataset(3, 4, seed=1)
    good = len(rows) - 1
    files["junk.stl"] = b"not a mesh"
    bad = [
        ["parts/nowhere.stl", "A5052", "1", "", "", "1000", "5"],  # not in the zip
        [rows[1][0], "unobtainium", "1", "", "", "1000", "5"],
        [rows[1][0], "A5052", "three", "", "", "1000", "5"],
        [rows[1][0], "A5052", "1", "", "", "-4", "5"],
        ["/etc/hostname", "A5052", "1", "", "", "1000", "5"],  # exists, but outside the zip
        ["../../../../etc/hostname", "A5052", "1", "", "", "1000", "5"],
        ["junk.stl", "A5052", "1", "", "", "1000", "5"],  # in the zip, but not a part
    ]
    r = _post_history(client, shop, rows + bad, files)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["kind"] == "history_import"

    assert JobWorker(ctx, HANDLERS).run_until_empty() == [job["id"]]
    done = _job(client, shop, job["id"])
    assert done["status"] == "succeeded" and done["progress"] == 1.0, done
    assert done["result"]["rows_imported"] == good and done["result"]["part_files"] == 4
    lines = {e["line"]: e["error"] for e in done["errors"]}
    first_bad = good + 2  # header is line 1
    assert lines[first_bad] == "part_not_found"
    assert lines[first_bad + 1] == "unknown_material"
    assert lines[first_bad + 2] == "invalid_quantity"
    assert lines[first_bad + 3] == "invalid_price"
    assert lines[first_bad + 4] == "part_file_outside_zip"
    assert lines[first_bad + 5] in ("part_file_outside_zip", "part_not_found")
    assert lines[first_bad + 6] in ("unreadable_part", "not_a_solid", "empty_part")
    assert len(lines) == len(bad)
    assert str(data_dir) not in str(done)  # no server paths in messages

    history = client.get(f"/v1/shops/{shop.id}/history?limit=200", headers=shop.headers).json()
    assert len(history["items"]) == good
    parts = client.get("/v1/parts?limit=200", headers=shop.headers).json()["items"]
    assert len(parts) == 3  # each distinct file analysed and stored once
    assert not (data_dir / "jobs" / job["id"]).exists()  # uploads cleaned up after success


def test_train_gives_the_shop_a_model_that_prices_its_quotes(client: TestClient, ctx: Any) -> None:
    shop, buyer = make_org(ctx, "shop"), make_org(ctx, "buyer")
    rows, files = history_dataset(8, 8, seed=2)
    job = _post_history(client, shop, rows, files).json()
    worker = JobWorker(ctx, HANDLERS)
    assert worker.run_until_empty() == [job["id"]]
    r = client.post(f"/v1/shops/{shop.id}/model/train", json={}, headers=shop.headers)
    assert r.status_code == 202, r.text
    train_id = r.json()["id"]
    assert worker.run_until_empty() == [train_id]

    trained = _job(client, shop, train_id)
    assert trained["status"] == "succeeded", trained
    metrics = trained["result"]["metrics"]
    assert 0 < metrics["price_mape"] < metrics["base_price_mape"]  # it learned this shop
    models = client.get(f"/v1/shops/{shop.id}/models", headers=shop.headers).json()["items"]
    assert len(models) == 1 and models[0]["active"] and models[0]["training_rows"] == 64
    assert models[0]["version"] == trained["result"]["version"]

    part = client.post(
        "/v1/parts", files={"file": ("p.stl", stl_box(80, 50, 20))}, headers=buyer.headers
    ).json()
    body = {"part_id": part["id"], "material": "A5052", "quantity": 10}
    priced = client.post("/v1/quotes", json={**body, "shop": shop.id}, headers=buyer.headers)
    assert priced.json()["model"] == {
        "name": models[0]["name"],
        "version": models[0]["version"],
        "shop": shop.id,
    }
    default = client.post("/v1/quotes", json=body, headers=buyer.headers).json()
    assert default["model"]["name"] == "default"
    assert default["unit_price"] != priced.json()["unit_price"]


def test_bad_uploads_are_refused_before_a_job(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    rows, files = history_dataset(1, 2)
    no_price = [[c for c in row if c != row[5]] for row in rows]
    r = _post_history(client, shop, no_price, files)
    assert r.status_code == 422 and r.json()["error"] == "invalid_history"
    assert "unit_price" in r.json()["detail"]["missing"]
    r = client.post(
        f"/v1/shops/{shop.id}/history",
        files={"history": ("h.csv", csv_bytes(rows)), "parts": ("p.zip", b"not a zip")},
        headers=shop.headers,
    )
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = client.post(
        f"/v1/shops/{shop.id}/history",
        files={"history": ("h.csv", "\udcff".encode("utf-8", "surrogateescape") * 10)},
        headers=shop.headers,
    )
    assert r.status_code == 422
    assert client.get("/v1/jobs", headers=shop.headers).json()["items"] == []


def test_training_needs_50_rows(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    r = client.post(f"/v1/shops/{shop.id}/model/train", headers=shop.headers)
    assert r.status_code == 422 and r.json()["error"] == "insufficient_history"


def test_import_with_nothing_usable_succeeds_with_nothing_stored(
    client: TestClient, ctx: Any
) -> None:
    shop = make_org(ctx, "shop")
    rows = [["part_file", "material", "quantity", "tolerance", "finish", "unit_price",
             "lead_time_days"], ["../x.stl", "A5052", "1", "", "", "100", "2"]]  # fmt: skip
    job = _post_history(client, shop, rows, {"../x.stl": stl_box(), "a/b.stl": stl_box()}).json()
    JobWorker(ctx, HANDLERS).run_until_empty()
    done = _job(client, shop, job["id"])
    # Bad rows are the shop's to fix, never a failed job: the errors say what to fix.
    assert done["status"] == "succeeded", done
    assert (done["result"]["rows_read"], done["result"]["rows_imported"]) == (1, 0)
    assert [(e["line"], e["error"]) for e in done["errors"]] == [(2, "part_file_outside_zip")]
    assert any("'../x.stl'" in n for n in done["result"]["notes"])  # zip-slip entry


class Crash(BaseException):
    """Stands for the process dying (kill -9): nothing in the worker catches it."""


def test_a_crashed_import_resumes_where_it_stopped(
    client: TestClient, ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_org(ctx, "shop")
    rows, files = history_dataset(4, 3, seed=3)
    job = _post_history(client, shop, rows, files).json()
    real_ingest = shop_jobs.parts_service.ingest_path
    calls: list[str] = []

    def flaky_ingest(**kw: Any) -> Any:
        calls.append(kw["file_name"])
        if len(calls) == 3:
            raise Crash()
        return real_ingest(**kw)

    monkeypatch.setattr(shop_jobs.parts_service, "ingest_path", flaky_ingest)
    with pytest.raises(Crash):
        JobWorker(ctx, HANDLERS, name="doomed").run_once()
    mid = _job(client, shop, job["id"])
    assert mid["status"] == "running" and mid["attempts"] == 1
    with ctx.db.session() as s:  # two part files (6 rows) were committed before the crash
        assert len(s.exec(select(HistoryRow).where(HistoryRow.job_id == job["id"])).all()) == 6
        j = s.get(Job, job["id"])
        j.heartbeat_at = utcnow() - timedelta(hours=1)  # the dead worker stopped beating
        s.add(j)

    calls.clear()
    assert JobWorker(ctx, HANDLERS).run_until_empty() == [job["id"]]
    done = _job(client, shop, job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 2
    assert done["result"]["rows_imported"] == 12
    assert len(calls) == 2  # only the two files not yet imported were read again
    history = client.get(f"/v1/shops/{shop.id}/history?limit=200", headers=shop.headers).json()
    assert sorted(r["line"] for r in history["items"]) == list(range(2, 14))


def test_an_orphan_out_of_attempts_fails_with_a_reason(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    with ctx.db.session() as s:
        job = jobs_repository.create(s, org_id=shop.id, kind="train", params={}, max_attempts=1)
        job.status, job.attempts = "running", 1
        job.locked_by, job.heartbeat_at = "gone-host:1", utcnow() - timedelta(hours=2)
        job_id = job.id
    assert JobWorker(ctx, HANDLERS).recover_stale() == (0, 1)
    done = _job(client, shop, job_id)
    assert done["status"] == "failed" and "worker lost" in done["message"]


def test_a_clean_shutdown_gives_the_job_back(client: TestClient, ctx: Any) -> None:
    shop = make_org(ctx, "shop")
    rows, files = history_dataset(1, 2)
    job = _post_history(client, shop, rows, files).json()
    worker = JobWorker(ctx, HANDLERS)
    worker.stopping.set()  # as on SIGTERM: the handler stops at its first progress report
    assert worker.run_once() == job["id"]
    back = _job(client, shop, job["id"])
    assert back["status"] == "queued" and back["attempts"] == 0
    assert "interrupted" in back["message"]
    assert JobWorker(ctx, HANDLERS).run_until_empty() == [job["id"]]
    assert _job(client, shop, job["id"])["status"] == "succeeded"


def test_concurrent_workers_claim_each_job_once(fresh_database: Any) -> None:
    """Real commits on a fresh database (no test transaction): 4 workers, 40 jobs."""
    from platform_api.analyzer import Analyzer
    from platform_api.context import AppContext
    from platform_api.db.session import Database
    from platform_api.metrics import Metrics
    from platform_api.settings import Settings
    from platform_api.shops.model_store import ModelStore

    engine, data_dir = fresh_database
    db = Database(engine)
    with db.session() as s:
        s.add(Organization(id="org_claims", name="claims", kind="shop"))
    with db.session() as s:
        for _ in range(40):
            jobs_repository.create(s, org_id="org_claims", kind="noop", params={}, max_attempts=1)
    runs: list[str] = []
    lock = threading.Lock()

    def noop(ctx: Any, run: Any) -> tuple[dict[str, Any], list[Any], str]:
        with lock:
            runs.append(run.job_id)
        time.sleep(0.005)  # a job takes time, so every worker gets some
        return {"by": run.worker.worker_id}, [], "ok"

    settings = Settings(data_dir=data_dir, job_worker=False, analysis_workers=0)
    ctx = AppContext(
        settings=settings,
        db=db,
        analyzer=Analyzer(0, max_bytes=1),
        models=ModelStore(),
        metrics=Metrics(),
    )
    workers = [JobWorker(ctx, {"noop": noop}, name=str(i)) for i in range(4)]
    threads = [threading.Thread(target=w.run_until_empty) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(runs) == 40 and len(set(runs)) == 40
    with db.session() as s:
        jobs = s.exec(select(Job)).all()
    assert all(j.status == "succeeded" and j.attempts == 1 for j in jobs)
    assert len({j.result["by"] for j in jobs}) > 1  # the work was shared
