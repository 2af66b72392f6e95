"""machine data: events, status, bookings, MTConnect agents, shop settings and profiles,
matches and RFQs

Revision ID: 0002_machine_data
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen copies of the app's column types, so later model edits never change this revision.
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

revision: str = "0002_machine_data"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("machines", sa.Column("tolerance_mm", sa.Float(), nullable=True))
    op.add_column(
        "machines",
        sa.Column(
            "envelope_source", sa.String(length=16), nullable=False, server_default="declared"
        ),
    )

    op.create_table(
        "machine_events",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("machine_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("availability", sa.String(length=32), nullable=True),
        sa.Column("execution", sa.String(length=32), nullable=True),
        sa.Column("controller_mode", sa.String(length=32), nullable=True),
        sa.Column("functional_mode", sa.String(length=32), nullable=True),
        sa.Column("part_count", sa.BigInteger(), nullable=True),
        sa.Column("program", sa.String(length=512), nullable=True),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["machine_id"], ["machines.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("machine_id", "event_id", name="uq_machine_events_event"),
        sa.UniqueConstraint("machine_id", "content_hash", name="uq_machine_events_content"),
    )
    op.create_index(
        "ix_machine_events_machine_time", "machine_events", ["machine_id", "observed_at"]
    )

    op.create_table(
        "machine_status",
        sa.Column("machine_id", sa.String(length=40), nullable=False),
        sa.Column("latest", JSON_TYPE, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_event_at", TS, nullable=True),
        sa.Column("last_received_at", TS, nullable=True),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("load", JSON_TYPE, nullable=False),
        sa.Column("load_computed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["machine_id"], ["machines.id"]),
        sa.PrimaryKeyConstraint("machine_id"),
    )

    op.create_table(
        "machine_bookings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("machine_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("job_ref", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["machine_id"], ["machines.id"]),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("machine_id", "job_ref", name="uq_machine_bookings_job"),
    )
    op.create_index(
        op.f("ix_machine_bookings_machine_id"), "machine_bookings", ["machine_id"], unique=False
    )
    op.create_index(
        op.f("ix_machine_bookings_org_id"), "machine_bookings", ["org_id"], unique=False
    )

    op.create_table(
        "mtconnect_agents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=True),
        sa.Column("next_sequence", sa.BigInteger(), nullable=True),
        sa.Column("polls", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("lost", sa.BigInteger(), nullable=False),
        sa.Column("last_poll_at", TS, nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "base_url", name="uq_mtconnect_agents_url"),
    )
    op.create_index(
        op.f("ix_mtconnect_agents_org_id"), "mtconnect_agents", ["org_id"], unique=False
    )

    op.create_table(
        "shop_settings",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("calendar", JSON_TYPE, nullable=False),
        sa.Column("materials", JSON_TYPE, nullable=False),
        sa.Column("base_lead_days", sa.Float(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("org_id"),
    )

    op.create_table(
        "shop_profiles",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("profile", JSON_TYPE, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("reference_prices", JSON_TYPE, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("org_id"),
    )

    op.create_table(
        "matches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("buyer_org_id", sa.String(length=40), nullable=False),
        sa.Column("part_id", sa.String(length=40), nullable=False),
        sa.Column("request", JSON_TYPE, nullable=False),
        sa.Column("rfq", JSON_TYPE, nullable=False),
        sa.Column("results", JSON_TYPE, nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("filtered", JSON_TYPE, nullable=False),
        sa.Column("ranker_version", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["buyer_org_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["part_id"], ["parts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_matches_buyer_org_id"), "matches", ["buyer_org_id"], unique=False)
    op.create_index(op.f("ix_matches_created_at"), "matches", ["created_at"], unique=False)

    op.create_table(
        "rfqs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("buyer_org_id", sa.String(length=40), nullable=False),
        sa.Column("part_id", sa.String(length=40), nullable=False),
        sa.Column("match_id", sa.String(length=40), nullable=True),
        sa.Column("request", JSON_TYPE, nullable=False),
        sa.Column("rfq", JSON_TYPE, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["buyer_org_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["match_id"], ["matches.id"]),
        sa.ForeignKeyConstraint(["part_id"], ["parts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_rfqs_buyer_org_id"), "rfqs", ["buyer_org_id"], unique=False)

    op.create_table(
        "rfq_recipients",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("rfq_id", sa.String(length=40), nullable=False),
        sa.Column("shop_org_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("quote_id", sa.String(length=40), nullable=True),
        sa.Column("decline_reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("responded_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["quote_id"], ["quotes.id"]),
        sa.ForeignKeyConstraint(["rfq_id"], ["rfqs.id"]),
        sa.ForeignKeyConstraint(["shop_org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rfq_id", "shop_org_id", name="uq_rfq_recipients_shop"),
    )
    op.create_index(op.f("ix_rfq_recipients_rfq_id"), "rfq_recipients", ["rfq_id"], unique=False)
    op.create_index(
        op.f("ix_rfq_recipients_shop_org_id"), "rfq_recipients", ["shop_org_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rfq_recipients_shop_org_id"), table_name="rfq_recipients")
    op.drop_index(op.f("ix_rfq_recipients_rfq_id"), table_name="rfq_recipients")
    op.drop_table("rfq_recipients")
    op.drop_index(op.f("ix_rfqs_buyer_org_id"), table_name="rfqs")
    op.drop_table("rfqs")
    op.drop_index(op.f("ix_matches_created_at"), table_name="matches")
    op.drop_index(op.f("ix_matches_buyer_org_id"), table_name="matches")
    op.drop_table("matches")
    op.drop_table("shop_profiles")
    op.drop_table("shop_settings")
    op.drop_index(op.f("ix_mtconnect_agents_org_id"), table_name="mtconnect_agents")
    op.drop_table("mtconnect_agents")
    op.drop_index(op.f("ix_machine_bookings_org_id"), table_name="machine_bookings")
    op.drop_index(op.f("ix_machine_bookings_machine_id"), table_name="machine_bookings")
    op.drop_table("machine_bookings")
    op.drop_table("machine_status")
    op.drop_index("ix_machine_events_machine_time", table_name="machine_events")
    op.drop_table("machine_events")
    with op.batch_alter_table("machines") as batch:
        batch.drop_column("envelope_source")
        batch.drop_column("tolerance_mm")
