"""initial schema

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen copies of the app's column types, so later model edits never change this revision.
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("certifications", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_organizations_kind"), "organizations", ["kind"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scopes", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_index(op.f("ix_api_keys_org_id"), "api_keys", ["org_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(length=2000), nullable=False),
        sa.Column("params", JSON_TYPE, nullable=False),
        sa.Column("errors", JSON_TYPE, nullable=False),
        sa.Column("result", JSON_TYPE, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=120), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_jobs_org_id"), "jobs", ["org_id"], unique=False)
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"], unique=False)

    op.create_table(
        "machines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("machine_type", sa.String(length=32), nullable=False),
        sa.Column("axes", sa.Integer(), nullable=False),
        sa.Column("envelope_x_mm", sa.Float(), nullable=False),
        sa.Column("envelope_y_mm", sa.Float(), nullable=False),
        sa.Column("envelope_z_mm", sa.Float(), nullable=False),
        sa.Column("controller", sa.String(length=120), nullable=True),
        sa.Column("hourly_rate_jpy", sa.Float(), nullable=False),
        sa.Column("mtconnect_device_uuid", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_machines_org_id"), "machines", ["org_id"], unique=False)

    op.create_table(
        "parts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_org_id", sa.String(length=40), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("storage_path", sa.String(length=255), nullable=False),
        sa.Column("source_format", sa.String(length=16), nullable=False),
        sa.Column("units", sa.String(length=8), nullable=False),
        sa.Column("units_requested", sa.String(length=8), nullable=False),
        sa.Column("analysis", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_parts_owner_org_id"), "parts", ["owner_org_id"], unique=False)
    op.create_index(
        "ix_parts_owner_sha", "parts", ["owner_org_id", "sha256", "units_requested"], unique=False
    )

    op.create_table(
        "shop_models",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("metrics", JSON_TYPE, nullable=False),
        sa.Column("training_rows", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_shop_models_active"), "shop_models", ["active"], unique=False)
    op.create_index(op.f("ix_shop_models_org_id"), "shop_models", ["org_id"], unique=False)

    op.create_table(
        "history_rows",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.String(length=40), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("tolerance", sa.String(length=32), nullable=True),
        sa.Column("finish", sa.String(length=64), nullable=True),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("lead_time_days", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["parts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "line", name="uq_history_job_line"),
    )
    op.create_index(op.f("ix_history_rows_job_id"), "history_rows", ["job_id"], unique=False)
    op.create_index(op.f("ix_history_rows_org_id"), "history_rows", ["org_id"], unique=False)

    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("part_id", sa.String(length=40), nullable=False),
        sa.Column("requester_org_id", sa.String(length=40), nullable=False),
        sa.Column("shop_org_id", sa.String(length=40), nullable=True),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("inputs", JSON_TYPE, nullable=False),
        sa.Column("result", JSON_TYPE, nullable=False),
        sa.Column("model_name", sa.String(length=120), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("total_price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["parts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requester_org_id"],
            ["organizations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_quotes_created_at"), "quotes", ["created_at"], unique=False)
    op.create_index(op.f("ix_quotes_material"), "quotes", ["material"], unique=False)
    op.create_index(op.f("ix_quotes_part_id"), "quotes", ["part_id"], unique=False)
    op.create_index(
        op.f("ix_quotes_requester_org_id"), "quotes", ["requester_org_id"], unique=False
    )
    op.create_index(op.f("ix_quotes_shop_org_id"), "quotes", ["shop_org_id"], unique=False)
    op.create_index(op.f("ix_quotes_status"), "quotes", ["status"], unique=False)

    op.create_table(
        "rate_buckets",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
        ),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "quote_outcomes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("quote_id", sa.String(length=40), nullable=False),
        sa.Column("recorded_by_org_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("final_unit_price", sa.Float(), nullable=True),
        sa.Column("actual_hours", sa.Float(), nullable=True),
        sa.Column("delivered_on_time", sa.Boolean(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quote_id"],
            ["quotes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_quote_outcomes_quote_id"), "quote_outcomes", ["quote_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quote_outcomes_quote_id"), table_name="quote_outcomes")

    op.drop_table("quote_outcomes")
    op.drop_table("rate_buckets")
    op.drop_index(op.f("ix_quotes_status"), table_name="quotes")
    op.drop_index(op.f("ix_quotes_shop_org_id"), table_name="quotes")
    op.drop_index(op.f("ix_quotes_requester_org_id"), table_name="quotes")
    op.drop_index(op.f("ix_quotes_part_id"), table_name="quotes")
    op.drop_index(op.f("ix_quotes_material"), table_name="quotes")
    op.drop_index(op.f("ix_quotes_created_at"), table_name="quotes")

    op.drop_table("quotes")
    op.drop_index(op.f("ix_history_rows_org_id"), table_name="history_rows")
    op.drop_index(op.f("ix_history_rows_job_id"), table_name="history_rows")

    op.drop_table("history_rows")
    op.drop_index(op.f("ix_shop_models_org_id"), table_name="shop_models")
    op.drop_index(op.f("ix_shop_models_active"), table_name="shop_models")

    op.drop_table("shop_models")
    op.drop_index("ix_parts_owner_sha", table_name="parts")
    op.drop_index(op.f("ix_parts_owner_org_id"), table_name="parts")

    op.drop_table("parts")
    op.drop_index(op.f("ix_machines_org_id"), table_name="machines")

    op.drop_table("machines")
    op.drop_index("ix_jobs_status_id", table_name="jobs")
    op.drop_index(op.f("ix_jobs_org_id"), table_name="jobs")

    op.drop_table("jobs")
    op.drop_index(op.f("ix_api_keys_org_id"), table_name="api_keys")

    op.drop_table("api_keys")
    op.drop_index(op.f("ix_organizations_kind"), table_name="organizations")

    op.drop_table("organizations")
