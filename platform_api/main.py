"""The app factory: ``create_app(settings)`` builds the FastAPI app; its lifespan opens and closes
everything (database engine, migrations, models, analysis pool, job worker, cache refresher).

Nothing is created at import time, so ``uvicorn --factory platform_api.main:create_app`` in each
worker process, and tests, each get their own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine

from platform_api.analyzer import Analyzer
from platform_api.caches.refresher import CacheRefresher
from platform_api.context import AppContext
from platform_api.db.engine import make_engine
from platform_api.db.migrate import upgrade
from platform_api.db.session import Database
from platform_api.errors import install_error_handlers
from platform_api.ingest.lifespan import ROUTERS as MACHINE_DATA_ROUTERS
from platform_api.ingest.lifespan import start_machine_services
from platform_api.jobs.routes import router as jobs_router
from platform_api.jobs.worker import JobWorker
from platform_api.machines.routes import router as machines_router
from platform_api.metrics import Metrics
from platform_api.orgs import service as orgs_service
from platform_api.orgs.routes import router as orgs_router
from platform_api.parts.routes import router as parts_router
from platform_api.quotes.routes import router as quotes_router
from platform_api.settings import Settings
from platform_api.shops.jobs import HANDLERS
from platform_api.shops.model_store import ModelStore
from platform_api.shops.routes import router as shops_router
from platform_api.system.body_limit import BodyLimitMiddleware
from platform_api.system.middleware import RequestMetricsMiddleware
from platform_api.system.routes import router as system_router
from platform_api.web.routes import install_web

log = logging.getLogger("mitsumori.api")

MULTIPART_OVERHEAD = 1 << 20  # room for multipart headers and small form fields, bytes

DESCRIPTION = """\
Instant, explained quotes for precision parts, priced like the shop that asks.

Authenticate with an API key: `Authorization: Bearer mk_...`. Roles: **shop** (its parts,
quotes, history, models, machines, jobs), **buyer** (its parts and quotes), **admin**
(organisations and keys). Rows of other companies answer 404. Errors are JSON
`{"error": code, "message": ..., "detail": {...}}`. Lists are newest first with cursor
pagination (`next_cursor`). Money in JPY, lengths in mm, lead times in business days.
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    settings
        Configuration; read from ``MITSUMORI_*`` environment variables when omitted.
    engine
        An engine to use instead of one made from ``settings`` (tests); the app does not dispose
        an engine it was given.
    """
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        eng = engine if engine is not None else make_engine(settings.effective_database_url)
        db = Database(eng)
        if settings.run_migrations:
            upgrade(eng)
        if settings.admin_bootstrap_key is not None:
            with db.session() as session:
                if orgs_service.ensure_admin_key(
                    session=session, key=settings.admin_bootstrap_key.get_secret_value()
                ):
                    log.info("admin bootstrap key installed")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        analyzer = Analyzer.from_settings(settings)
        analyzer.warm_up()
        ctx = AppContext(
            settings=settings, db=db, analyzer=analyzer, models=ModelStore(), metrics=metrics
        )
        try:
            ctx.models.default()
        except Exception as exc:  # readiness reports it; quoting answers 503 until it exists
            log.warning("default model not loaded: %s", getattr(exc, "message", exc))
        if settings.job_worker:
            worker = JobWorker(ctx, HANDLERS)
            worker.start()
            ctx.workers.append(worker)
            if settings.cache_refresh_seconds > 0:
                refresher = CacheRefresher(db, ctx.models, interval=settings.cache_refresh_seconds)
                refresher.start()
                ctx.workers.append(refresher)
        start_machine_services(ctx)  # ranker, MQTT subscriber, demo publisher
        app.state.ctx = ctx
        try:
            yield
        finally:
            for w in ctx.workers:
                w.stop()
            analyzer.close()
            if own_engine:
                db.close()

    app = FastAPI(
        title="Mitsumori",
        version="0.1.0",
        summary="Automated quotation and matching for precision-parts manufacturing",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(system_router)
    app.include_router(orgs_router)
    app.include_router(parts_router)
    app.include_router(quotes_router)
    app.include_router(shops_router)
    app.include_router(jobs_router)
    app.include_router(machines_router)
    for router in MACHINE_DATA_ROUTERS:  # capacity, profiles, matching, RFQs
        app.include_router(router)
    install_web(app)  # /app pages and assets, GET /v1/parts/{id}/mesh
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Multipart routes may carry a whole part file (the history route a CSV and a zip).
    upload_limit = settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_json_bytes,
        rules=[
            ("POST", r"/v1/parts", upload_limit),
            ("POST", r"/v1/shops/[^/]+/history", 2 * upload_limit),
        ],
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
