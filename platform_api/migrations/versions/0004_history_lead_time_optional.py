"""history rows: lead_time_days may be empty (the row then trains the price model only)

Revision ID: 0004_history_lead_time_optional
Revises: 0002_machine_data
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_history_lead_time_optional"
down_revision: str | None = "0003_mtconnect_agent_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("history_rows") as batch:  # SQLite rebuilds the table
        batch.alter_column("lead_time_days", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM history_rows WHERE lead_time_days IS NULL")
    with op.batch_alter_table("history_rows") as batch:
        batch.alter_column("lead_time_days", existing_type=sa.Float(), nullable=False)
