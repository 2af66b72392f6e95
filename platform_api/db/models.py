"""Tables. All of them live here so the schema reads in one place; Alembic migrates them.

Ownership is a column on every row a company owns (``org_id`` / ``owner_org_id`` /
``requester_org_id``); repositories filter on it in SQL, so a row of another company is never
loaded, let alone returned. Ids are strings from ``platform_api.ids.new_id`` (time-ordered).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from platform_api.db.types import JSONType, UTCDateTime, utcnow


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSONType, nullable=False))


class Organization(SQLModel, table=True):
    """A company: a shop that makes parts, a buyer that orders them, or the platform admin."""

    __tablename__ = "organizations"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16, index=True)  # shop | buyer | admin
    city: str | None = Field(default=None, max_length=120)
    country: str | None = Field(default=None, max_length=2)  # ISO 3166-1 alpha-2
    latitude: float | None = None  # degrees, WGS84
    longitude: float | None = None
    certifications: list[str] = _json(list)  # e.g. ["ISO 9001", "AS9100"]
    created_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    """An API key: only its public prefix and a SHA-256 of the whole key are stored."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    name: str = Field(default="", max_length=200)
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    role: str = Field(max_length=16)  # shop | buyer | admin (the organisation's kind)
    scopes: list[str] = _json(list)  # "read", "write"
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
    last_used_at: datetime | None = _ts(nullable=True)


class RateBucket(SQLModel, table=True):
    """Token bucket per API key, in the database so every API process and host agrees."""

    __tablename__ = "rate_buckets"

    key_id: str = Field(primary_key=True, foreign_key="api_keys.id", max_length=40)
    tokens: float
    updated: float  # Unix time, seconds


class Part(SQLModel, table=True):
    """An uploaded part file (stored content-addressed) and its analysis (features, DFM)."""

    __tablename__ = "parts"
    __table_args__ = (Index("ix_parts_owner_sha", "owner_org_id", "sha256", "units_requested"),)

    id: str = Field(primary_key=True, max_length=40)
    owner_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    size_bytes: int
    storage_path: str = Field(max_length=255)  # relative to data_dir
    source_format: str = Field(max_length=16)
    units: str = Field(max_length=8)
    units_requested: str = Field(default="", max_length=8)
    analysis: dict[str, Any] = _json(dict)  # quote.analysis.PartAnalysis.to_dict()
    created_at: datetime = _ts()


class Quote(SQLModel, table=True):
    """A quote as the engine produced it, with its inputs, the model that priced it and its fate."""

    __tablename__ = "quotes"

    id: str = Field(primary_key=True, max_length=40)
    part_id: str = Field(foreign_key="parts.id", index=True, max_length=40)
    requester_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    shop_org_id: str | None = Field(
        default=None, foreign_key="organizations.id", index=True, max_length=40
    )
    material: str = Field(max_length=64, index=True)
    quantity: int
    inputs: dict[str, Any] = _json(dict)
    result: dict[str, Any] = _json(dict)  # the engine's quote JSON, unchanged
    model_name: str = Field(max_length=120)
    model_version: str = Field(max_length=64)
    unit_price: float  # JPY
    total_price: float  # JPY
    currency: str = Field(default="JPY", max_length=3)
    status: str = Field(default="quoted", max_length=16, index=True)
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()


class QuoteOutcome(SQLModel, table=True):
    """What became of a quote: sent, won, lost or no bid; final price, hours, punctuality."""

    __tablename__ = "quote_outcomes"

    id: str = Field(primary_key=True, max_length=40)
    quote_id: str = Field(foreign_key="quotes.id", index=True, max_length=40)
    recorded_by_org_id: str = Field(foreign_key="organizations.id", max_length=40)
    status: str = Field(max_length=16)
    final_unit_price: float | None = None  # JPY
    actual_hours: float | None = None  # machine + labour hours for the whole order
    delivered_on_time: bool | None = None
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _ts()


class HistoryRow(SQLModel, table=True):
    """One imported row of a shop's quoting history (the engine's history CSV format)."""

    __tablename__ = "history_rows"
    __table_args__ = (UniqueConstraint("job_id", "line", name="uq_history_job_line"),)

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    job_id: str = Field(foreign_key="jobs.id", index=True, max_length=40)
    line: int  # line number in the uploaded CSV (header is line 1)
    part_id: str = Field(foreign_key="parts.id", max_length=40)
    material: str = Field(max_length=64)
    quantity: int
    tolerance: str | None = Field(default=None, max_length=32)
    finish: str | None = Field(default=None, max_length=64)
    unit_price: float  # JPY
    lead_time_days: float  # business days
    created_at: datetime = _ts()


class ShopModel(SQLModel, table=True):
    """A shop's trained pricing model; the artifact bytes live here so every host shares them."""

    __tablename__ = "shop_models"

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    name: str = Field(max_length=120)
    version: str = Field(max_length=64)
    artifact: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    metrics: dict[str, Any] = _json(dict)
    training_rows: int = 0
    active: bool = Field(default=False, index=True)
    job_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = _ts()


class Job(SQLModel, table=True):
    """Background work (history import, training) claimed atomically by any worker process."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    kind: str = Field(max_length=32)  # history_import | train
    status: str = Field(default="queued", max_length=16)  # queued|running|succeeded|failed
    progress: float = 0.0  # 0..1
    message: str = Field(default="", max_length=2000)
    params: dict[str, Any] = _json(dict)
    errors: list[dict[str, Any]] = _json(list)  # [{line, error, message}]
    result: dict[str, Any] = _json(dict)
    attempts: int = 0
    max_attempts: int = 2
    locked_by: str | None = Field(default=None, max_length=120)
    heartbeat_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    started_at: datetime | None = _ts(nullable=True)
    finished_at: datetime | None = _ts(nullable=True)


class Machine(SQLModel, table=True):
    """A machine tool a shop declares: what it can hold and what an hour on it costs."""

    __tablename__ = "machines"

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    machine_type: str = Field(max_length=32)
    axes: int
    envelope_x_mm: float
    envelope_y_mm: float
    envelope_z_mm: float
    controller: str | None = Field(default=None, max_length=120)
    hourly_rate_jpy: float
    mtconnect_device_uuid: str | None = Field(default=None, max_length=120)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


metadata = SQLModel.metadata
