"""The API under a real server: heavy STEP analysis in worker processes, jobs in the background.

Slow (spawned analysis processes import OpenCASCADE); runs on both databases.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from platform_api.db.session import Database
from platform_api.main import create_app
from platform_api.settings import Settings
from tests.platform_api.factories import csv_bytes, history_dataset, history_zip, make_org
from tests.platform_api.live import serve

pytestmark = pytest.mark.slow

LARGE_STEP = Path("nist_rhino") / "NIST_MBE_PMI_2.stp"  # ~2 MB, seconds of analysis


def _settings(engine: Any, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=engine.url.render_as_string(hide_password=False),
        analysis_workers=1,
        job_worker=True,
        job_poll_seconds=0.2,
    )


def test_healthz_answers_fast_while_a_large_step_is_analysed(
    fresh_database: Any, shared_parts: Path
) -> None:
    engine, data_dir = fresh_database
    app = create_app(_settings(engine, data_dir), engine=engine)
    with serve(app) as url:
        shop = make_org(app.state.ctx, "shop")
        step = (shared_parts / LARGE_STEP).read_bytes()
        result: dict[str, Any] = {}

        def upload() -> None:
            t0 = time.perf_counter()
            r = httpx.post(
                f"{url}/v1/parts",
                files={"file": (LARGE_STEP.name, step)},
                headers=shop.headers,
                timeout=300,
            )
            result.update(status=r.status_code, body=r.json(), seconds=time.perf_counter() - t0)

        worker = threading.Thread(target=upload)
        worker.start()
        latencies = []
        with httpx.Client(base_url=url, timeout=10) as c:
            while worker.is_alive():
                t0 = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.05)
        worker.join()
    assert result["status"] == 201, result["body"]
    assert result["body"]["source_format"] == "step"
    assert result["seconds"] > 1.0 and len(latencies) >= 10
    # While seconds of OpenCASCADE work ran in the worker process, liveness stayed immediate.
    # (Run inline, the STEP reader would hold the GIL and stall /healthz for seconds.) The
    # machine is shared, so one unlucky scheduling delay is allowed, not a stall.
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.05, latencies[-5:]
    assert latencies[int(0.9 * (len(latencies) - 1))] < 0.2, latencies[-5:]
    assert latencies[-1] < min(1.0, result["seconds"] / 3), (latencies[-5:], result["seconds"])


def test_jobs_run_in_the_background_with_progress(fresh_database: Any) -> None:
    engine, data_dir = fresh_database
    app = create_app(_settings(engine, data_dir), engine=engine)
    with serve(app) as url:
        shop = make_org(app.state.ctx, "shop")
        rows, files = history_dataset(8, 8, seed=4)
        with httpx.Client(base_url=url, headers=shop.headers, timeout=60) as c:
            r = c.post(
                f"/v1/shops/{shop.id}/history",
                files={
                    "history": ("h.csv", csv_bytes(rows)),
                    "parts": ("p.zip", history_zip(files)),
                },
            )
            assert r.status_code == 202
            imported = _wait(c, r.json()["id"])
            assert imported["result"]["rows_imported"] == 64
            r = c.post(f"/v1/shops/{shop.id}/model/train")
            assert r.status_code == 202
            seen: list[float] = []
            trained = _wait(c, r.json()["id"], seen)
            assert trained["status"] == "succeeded", (trained["message"], trained["result"])
            assert trained["result"]["metrics"]["price_mape"] > 0
            assert any(0 < p < 1 for p in seen) or trained["progress"] == 1.0
    assert isinstance(app.state.ctx.db, Database)


def test_the_cache_refresher_stores_profiles_and_stops_with_the_server(
    fresh_database: Any,
) -> None:
    from platform_api.caches.refresher import CacheRefresher
    from platform_api.db.models import ShopProfileCache

    engine, data_dir = fresh_database
    settings = _settings(engine, data_dir).model_copy(update={"cache_refresh_seconds": 0.2})
    app = create_app(settings, engine=engine)
    with serve(app) as url:
        ctx = app.state.ctx
        (refresher,) = [w for w in ctx.workers if isinstance(w, CacheRefresher)]
        shop = make_org(ctx, "shop")
        rows, files = history_dataset(4, 5, seed=5)
        with httpx.Client(base_url=url, headers=shop.headers, timeout=60) as c:
            r = c.post(
                f"/v1/shops/{shop.id}/history",
                files={
                    "history": ("h.csv", csv_bytes(rows)),
                    "parts": ("p.zip", history_zip(files)),
                },
            )
            assert r.status_code == 202
            assert _wait(c, r.json()["id"])["result"]["rows_imported"] == 20
            # wait on the state: a stored profile that counts the imported rows
            deadline = time.monotonic() + 120
            stored = None
            while time.monotonic() < deadline:
                with ctx.db.session() as session:
                    row = session.get(ShopProfileCache, shop.id)
                    stored = None if row is None else row.profile["_meta"]["sources"]
                if stored is not None and stored["history_rows"] == 20:
                    break
                time.sleep(0.2)
            assert stored is not None and stored["history_rows"] == 20, stored
            served = c.get(f"/v1/shops/{shop.id}/profile").json()
            assert served["sources"] == stored and served["n_requests"] == 20
    assert refresher.passes >= 1 and not refresher._thread.is_alive()  # stopped with the server


def _wait(c: httpx.Client, job_id: str, seen: list[float] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = c.get(f"/v1/jobs/{job_id}").json()
        if seen is not None:
            seen.append(job["progress"])
        if job["status"] in ("succeeded", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")
