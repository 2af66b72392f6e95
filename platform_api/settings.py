"""Settings from the environment (``MITSUMORI_*``), validated once at start-up.

Nothing here is read at import time by other modules: ``create_app(settings)`` receives an object
and passes plain values down, so tests build their own ``Settings`` without touching the env.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

# Values people paste from examples: refusing them keeps a demo key out of production.
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "admin", "test", "example"}


class Settings(BaseSettings):
    """Platform configuration. Every field maps to ``MITSUMORI_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MITSUMORI_", extra="ignore")

    data_dir: Path = Field(
        default=REPO_ROOT / "var",
        description="Root of the part store (parts/ab/cdef...) and of the default SQLite file.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///{data_dir}/mitsumori.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    run_migrations: bool = Field(default=True, description="Apply Alembic migrations at start.")
    max_upload_bytes: int = Field(default=100 * 2**20, gt=0, description="Per part file, bytes.")
    max_json_bytes: int = Field(default=2**20, gt=0, description="Per JSON request body, bytes.")
    rate_limit_per_minute: float = Field(
        default=600.0, gt=0, description="Sustained requests per minute per API key."
    )
    rate_limit_burst: int = Field(
        default=120, gt=0, description="Token-bucket capacity: requests a key may send at once."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed by CORS; empty (default) closes CORS.",
    )
    analysis_workers: int = Field(
        default=2, ge=0, description="Processes that parse part files; 0: in the request thread."
    )
    analysis_timeout_seconds: float | None = Field(
        default=180.0,
        gt=0,
        description="Wall-clock time one part's analysis may take in a worker; over it the "
        "worker is killed and the upload answers 422 part_too_complex. Empty: no limit.",
    )
    analysis_memory_mb: int | None = Field(
        default=4096,
        gt=0,
        description="Memory one part's analysis may allocate on top of its worker's own, MiB "
        "(RLIMIT_AS); over it the upload answers 422 part_too_complex. Empty: no limit.",
    )
    job_worker: bool = Field(default=True, description="Run the job worker thread in this process.")
    job_poll_seconds: float = Field(default=1.0, gt=0)
    cache_refresh_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Seconds between passes of the cache refresher (shop profiles, machine "
        "loads), which runs where the job worker runs; 0: none (reads still answer from the "
        "stored rows, only slower).",
    )
    job_heartbeat_seconds: float = Field(default=5.0, gt=0)
    job_stale_seconds: float = Field(
        default=60.0, gt=0, description="A running job without heartbeat this long is orphaned."
    )
    job_max_attempts: int = Field(default=2, ge=1, description="Runs before an orphan job fails.")
    mqtt_url: str | None = Field(
        default=None,
        description="MQTT broker to take machine states from (mqtt://host:1883); empty: no "
        "subscriber. `mitsumori serve` defaults it to mqtt://127.0.0.1:1883.",
    )
    mqtt_prefix: str = Field(
        default="mitsumori",
        min_length=1,
        max_length=64,
        pattern=r"^[^/+#]+$",
        description="Topics are {prefix}/{shop id}/{machine id}/state",
    )
    mqtt_client_id: str | None = Field(
        default=None,
        max_length=64,
        description="Fixed MQTT client id: a persistent session, so QoS 1 messages sent while "
        "the subscriber is down are delivered when it is back; unset: a random id, clean session.",
    )
    mqtt_managed_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="If set, `mitsumori serve` runs its own Mosquitto on 127.0.0.1:PORT with "
        "the generated password file and ACL (each shop publishes only under its own id) and "
        "subscribes to it; when mosquitto is not installed it falls back to MITSUMORI_MQTT_URL.",
    )
    mqtt_max_message_bytes: int = Field(
        default=4 * 2**20, gt=0, le=256 * 2**20, description="Largest MQTT message accepted."
    )
    demo_publisher: bool = Field(
        default=False, description="Publish live demo machine states over MQTT (make run)."
    )
    demo_publish_seconds: float = Field(
        default=3.0, gt=0, description="Mean seconds between a demo machine's reports."
    )
    ranker_path: Path = Field(
        default=REPO_ROOT / "data" / "models" / "ranker.joblib",
        description="The default supplier ranker, built by `make` (`mitsumori ranker build`); "
        "matching answers 503 ranker_unavailable while it is missing.",
    )
    admin_bootstrap_key: SecretStr | None = Field(
        default=None,
        description="If set, an admin organisation with this API key exists after start "
        "(mk_... format, at least 32 characters).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the web app's session cookies (at least 32 characters); when unset, "
        "a random one is made once and kept in {data_dir}/secret_key (mode 0600).",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.admin_bootstrap_key is not None:
            key = self.admin_bootstrap_key.get_secret_value()
            if key.lower() in _PLACEHOLDER_SECRETS or len(key) < 32:
                raise ValueError(
                    "MITSUMORI_ADMIN_BOOTSTRAP_KEY is a placeholder or shorter than 32 characters; "
                    "generate one with `mitsumori keys generate`"
                )
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if value.lower() in _PLACEHOLDER_SECRETS or len(value) < 32:
                raise ValueError(
                    "MITSUMORI_SECRET_KEY is a placeholder or shorter than 32 characters; "
                    "leave it unset (one is generated) or use `mitsumori keys generate`"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'mitsumori.db'}"

    @property
    def parts_dir(self) -> Path:
        return self.data_dir / "parts"
