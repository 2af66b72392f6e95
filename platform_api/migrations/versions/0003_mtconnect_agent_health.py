"""MTConnect agent health: status, last success / error / next attempt, failure counters

Revision ID: 0003_mtconnect_agent_health
Revises: 0002_machine_data
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = "0003_mtconnect_agent_health"
down_revision: str | None = "0002_machine_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("consecutive_failures", "failures", "timeouts", "resyncs")
TIMES = ("last_success_at", "last_error_at", "next_attempt_at")


def upgrade() -> None:
    with op.batch_alter_table("mtconnect_agents") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="ok")
        )
        for name in TIMES:
            batch.add_column(sa.Column(name, TS, nullable=True))
        for name in COUNTERS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("mtconnect_agents") as batch:
        for name in ("status", *TIMES, *COUNTERS):
            batch.drop_column(name)
