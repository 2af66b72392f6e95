"""Tables. All of them live here so the schema reads in one place; Alembic migrates them.

Ownership is a column on every row a company owns (``org_id`` / ``owner_org_id`` /
``requester_org_id``); repositories filter on it in SQL, so a row of another company is never
loaded, let alone returned. Ids are strings from ``platform_api.ids.new_id`` (time-ordered).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, UniqueConstraint
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
    __table_args__ = (
        UniqueConstraint("job_id", "line", name="uq_history_job_line"),
        Index("ix_history_rows_org_model_ratio", "org_id", "ref_model", "price_ratio"),
        Index("ix_history_rows_org_id_id", "org_id", "id"),
    )

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
    lead_time_days: float | None = None  # business days; None: not known (price only)
    created_at: datetime = _ts()
    # The row as its shop's profile counts it, read at import by quoting it with the default
    # model ``ref_model`` (see platform_api.profiles.history): process, sorted extents (mm) and
    # tolerance (+- mm) of that quote, its unit price and the ratio of the row's price to it.
    # ref_model None: not read yet; process None with ref_model set: the profile skips the row.
    ref_model: str | None = Field(default=None, max_length=120)
    process: str | None = Field(default=None, max_length=16)
    ext0_mm: float | None = None
    ext1_mm: float | None = None
    ext2_mm: float | None = None
    tolerance_mm: float | None = None
    ref_unit_price: float | None = None
    price_ratio: float | None = None


class ShopHistoryStats(SQLModel, table=True):
    """A shop's read history rows counted by what its profile groups them by (``RecordBucket``),
    kept up to date as rows are imported, so a profile never scans a million rows."""

    __tablename__ = "shop_history_stats"

    org_id: str = Field(primary_key=True, foreign_key="organizations.id", max_length=40)
    ref_model: str = Field(primary_key=True, max_length=120)
    process: str = Field(primary_key=True, max_length=16)
    family: str = Field(primary_key=True, max_length=32)
    size_bin: int = Field(primary_key=True)
    material: str = Field(primary_key=True, max_length=64)
    finish: str = Field(primary_key=True, max_length=64)
    n: int
    n_ratio: int
    min_tolerance_mm: float
    min_quantity: int
    max_quantity: int
    max_ext0_mm: float
    max_ext1_mm: float
    max_ext2_mm: float


class ShopRatioBin(SQLModel, table=True):
    """How many of a shop's read history rows have a price ratio in each bin (1 % wide on a log
    scale, ``profiles.history.RATIO_EDGES``): the median's rank is found here, then only that
    bin's ratios are read (a short index range, not an offset into a million rows)."""

    __tablename__ = "shop_ratio_bins"

    org_id: str = Field(primary_key=True, foreign_key="organizations.id", max_length=40)
    ref_model: str = Field(primary_key=True, max_length=120)
    bin: int = Field(primary_key=True)
    n: int


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
    errors: list[dict[str, Any]] = _json(list)  # [{line, column, error, message}]
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
    tolerance_mm: float | None = None  # tightest +- mm held; None: typical for the class
    envelope_source: str = Field(default="declared", max_length=16)  # declared | probe | typical


#: Integer primary keys that autoincrement on both databases (SQLite needs plain INTEGER).
_BIGINT_ID = BigInteger().with_variant(Integer(), "sqlite")


class MachineEventRow(SQLModel, table=True):
    """One accepted machine event (``matching.events.MachineEvent``), stored exactly once.

    ``(machine_id, event_id)`` and ``(machine_id, content_hash)`` are unique, so a re-sent batch
    or the same observation arriving by two paths is inserted once (``ON CONFLICT DO NOTHING``).
    """

    __tablename__ = "machine_events"
    __table_args__ = (
        UniqueConstraint("machine_id", "event_id", name="uq_machine_events_event"),
        UniqueConstraint("machine_id", "content_hash", name="uq_machine_events_content"),
        Index("ix_machine_events_machine_time", "machine_id", "observed_at"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT_ID, primary_key=True, autoincrement=True)
    )
    machine_id: str = Field(foreign_key="machines.id", max_length=40)
    event_id: str = Field(max_length=128)
    source: str = Field(max_length=16)  # rest | mqtt | mtconnect | shdr
    observed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    availability: str | None = Field(default=None, max_length=32)
    execution: str | None = Field(default=None, max_length=32)
    controller_mode: str | None = Field(default=None, max_length=32)
    functional_mode: str | None = Field(default=None, max_length=32)
    part_count: int | None = Field(default=None, sa_type=BigInteger)
    program: str | None = Field(default=None, max_length=512)
    content_hash: str = Field(max_length=32)
    received_at: datetime = _ts()


class MachineStatus(SQLModel, table=True):
    """A machine's latest reported values (per field, with the report that set it), its derived
    state, and the cached learned load (recomputed when events arrive or it ages)."""

    __tablename__ = "machine_status"

    machine_id: str = Field(primary_key=True, foreign_key="machines.id", max_length=40)
    latest: dict[str, Any] = _json(dict)  # field -> {"value", "ts", "event_id"}
    state: str = Field(default="offline", max_length=16)
    last_event_at: datetime | None = _ts(nullable=True)
    last_received_at: datetime | None = _ts(nullable=True)
    event_count: int = Field(default=0, sa_type=BigInteger)
    load: dict[str, Any] = _json(dict)  # {"utilisation": [168], "observed_hours": [168], ...}
    load_computed_at: datetime | None = _ts(nullable=True)


class MachineBooking(SQLModel, table=True):
    """Work booked ahead on a machine: [start, end) or ``hours`` from ``start``."""

    __tablename__ = "machine_bookings"
    __table_args__ = (UniqueConstraint("machine_id", "job_ref", name="uq_machine_bookings_job"),)

    id: str = Field(primary_key=True, max_length=40)
    machine_id: str = Field(foreign_key="machines.id", index=True, max_length=40)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime | None = _ts(nullable=True)
    hours: float | None = None
    job_ref: str = Field(max_length=120)
    created_at: datetime = _ts()


class MtconnectAgent(SQLModel, table=True):
    """An MTConnect agent a shop's machines report through, and where its poller stands."""

    __tablename__ = "mtconnect_agents"
    __table_args__ = (UniqueConstraint("org_id", "base_url", name="uq_mtconnect_agents_url"),)

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    base_url: str = Field(max_length=500)
    instance_id: str | None = Field(default=None, max_length=64)
    next_sequence: int | None = Field(default=None, sa_type=BigInteger)
    polls: int = Field(default=0, sa_type=BigInteger)
    events: int = Field(default=0, sa_type=BigInteger)
    restarts: int = 0
    lost: int = Field(default=0, sa_type=BigInteger)
    last_poll_at: datetime | None = _ts(nullable=True)  # the last attempt, failed or not
    last_error: str | None = Field(default=None, max_length=2000)
    # health (matching.mtconnect.health.AgentHealth): ok | backing_off | error
    status: str = Field(default="ok", max_length=16)
    last_success_at: datetime | None = _ts(nullable=True)
    last_error_at: datetime | None = _ts(nullable=True)
    next_attempt_at: datetime | None = _ts(nullable=True)
    consecutive_failures: int = Field(default=0, sa_type=BigInteger)
    failures: int = Field(default=0, sa_type=BigInteger)
    timeouts: int = Field(default=0, sa_type=BigInteger)
    resyncs: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ShopSettings(SQLModel, table=True):
    """What a shop sets for matching: its working calendar and the materials it cuts."""

    __tablename__ = "shop_settings"

    org_id: str = Field(primary_key=True, foreign_key="organizations.id", max_length=40)
    calendar: dict[str, Any] = _json(dict)  # {"shifts": [[[8, 12], ...] x7], "holidays", "tz"}
    materials: list[str] = _json(list)  # material names or families; empty: the default set
    base_lead_days: float | None = None  # days beyond machine time (queue, finishing, shipping)
    updated_at: datetime = _ts()


class ShopProfileCache(SQLModel, table=True):
    """A shop's computed capability profile and the fingerprint of the rows it was built from."""

    __tablename__ = "shop_profiles"

    org_id: str = Field(primary_key=True, foreign_key="organizations.id", max_length=40)
    profile: dict[str, Any] = _json(dict)  # matching.profiles.ShopProfile.to_dict()
    fingerprint: str = Field(max_length=64)
    reference_prices: dict[str, Any] = _json(dict)  # record key -> default model JPY/piece
    computed_at: datetime = _ts()


class Match(SQLModel, table=True):
    """A buyer's match request and the ranked shops it was shown."""

    __tablename__ = "matches"

    id: str = Field(primary_key=True, max_length=40)
    buyer_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    part_id: str = Field(foreign_key="parts.id", max_length=40)
    request: dict[str, Any] = _json(dict)
    rfq: dict[str, Any] = _json(dict)  # the core Rfq's fields (process, extents, hours, ...)
    results: list[dict[str, Any]] = _json(list)
    candidates: int = 0
    filtered: dict[str, Any] = _json(dict)
    ranker_version: str = Field(default="", max_length=120)
    created_at: datetime = _ts(index=True)


class RfqRow(SQLModel, table=True):
    """A request for quotation a buyer sent to the shops it chose."""

    __tablename__ = "rfqs"

    id: str = Field(primary_key=True, max_length=40)
    buyer_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    part_id: str = Field(foreign_key="parts.id", max_length=40)
    match_id: str | None = Field(default=None, foreign_key="matches.id", max_length=40)
    request: dict[str, Any] = _json(dict)
    rfq: dict[str, Any] = _json(dict)
    status: str = Field(default="open", max_length=16)
    created_at: datetime = _ts()


class RfqRecipient(SQLModel, table=True):
    """A shop an RFQ was sent to, and its answer (a quote, or a decline with a reason)."""

    __tablename__ = "rfq_recipients"
    __table_args__ = (UniqueConstraint("rfq_id", "shop_org_id", name="uq_rfq_recipients_shop"),)

    id: str = Field(primary_key=True, max_length=40)
    rfq_id: str = Field(foreign_key="rfqs.id", index=True, max_length=40)
    shop_org_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    status: str = Field(default="sent", max_length=16)  # sent | accepted | declined
    quote_id: str | None = Field(default=None, foreign_key="quotes.id", max_length=40)
    decline_reason: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    responded_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


metadata = SQLModel.metadata
