"""``/healthz`` (the process answers), ``/readyz`` (it can serve), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict

from platform_api.db.migrate import current_revision, head_revision

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})


class Readiness(BaseModel):
    status: str
    checks: dict[str, Any]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": {"database": "ok", "migrations": "0001", "default_model": "ok"},
                }
            ]
        }
    )


@router.get("/healthz")
async def healthz() -> Health:
    """Liveness: answers at once, touching nothing (async: never waits for a worker thread)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "Not ready (database down, migrations behind, no default model).",
            "content": {
                "application/json": {
                    "example": {"status": "not_ready", "checks": {"database": "error"}}
                }
            },
        }
    },
)
def readyz(request: Request) -> Any:
    """Readiness: the database answers at the latest migration and the default model loads."""
    ctx = request.app.state.ctx
    checks: dict[str, Any] = {}
    ok = True
    try:
        ctx.db.ping()
        checks["database"] = "ok"
        rev, head = current_revision(ctx.db.engine), head_revision()
        checks["migrations"] = rev
        if rev != head:
            ok = False
            checks["migrations"] = f"{rev} (head is {head}: run `mitsumori db upgrade`)"
    except Exception as exc:  # report, do not raise: this is what the probe is for
        ok = False
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        ctx.models.default()
        checks["default_model"] = "ok"
    except Exception as exc:
        ok = False
        checks["default_model"] = getattr(exc, "message", type(exc).__name__)
    body = Readiness(status="ready" if ok else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format.",
            "content": {
                "text/plain": {"example": 'mitsumori_quotes_total{model="default"} 42.0\n'}
            },
        }
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this process: request latency, quotes, parts, jobs, history rows."""
    registry = request.app.state.ctx.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
