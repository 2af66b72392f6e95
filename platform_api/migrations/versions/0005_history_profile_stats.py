"""history rows as their shop's profile reads them, and per-shop counts of them and of their
price ratios

Revision ID: 0005_history_profile_stats
Revises: 0004_history_lead_time_optional

Rows imported before this revision keep ref_model NULL: the profile reads them one by one as
before (quoting each with the default model) until they are read again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_history_profile_stats"
down_revision: str | None = "0004_history_lead_time_optional"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_COLUMNS = (
    ("ref_model", sa.String(length=120)),
    ("process", sa.String(length=16)),
    ("ext0_mm", sa.Float()),
    ("ext1_mm", sa.Float()),
    ("ext2_mm", sa.Float()),
    ("tolerance_mm", sa.Float()),
    ("ref_unit_price", sa.Float()),
    ("price_ratio", sa.Float()),
)


def upgrade() -> None:
    for name, type_ in _ROW_COLUMNS:
        op.add_column("history_rows", sa.Column(name, type_, nullable=True))
    op.create_index(
        "ix_history_rows_org_model_ratio",
        "history_rows",
        ["org_id", "ref_model", "price_ratio"],
    )
    op.create_index("ix_history_rows_org_id_id", "history_rows", ["org_id", "id"])
    op.create_table(
        "shop_history_stats",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("ref_model", sa.String(length=120), nullable=False),
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("size_bin", sa.Integer(), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("finish", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("n_ratio", sa.Integer(), nullable=False),
        sa.Column("min_tolerance_mm", sa.Float(), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=False),
        sa.Column("max_quantity", sa.Integer(), nullable=False),
        sa.Column("max_ext0_mm", sa.Float(), nullable=False),
        sa.Column("max_ext1_mm", sa.Float(), nullable=False),
        sa.Column("max_ext2_mm", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint(
            "org_id", "ref_model", "process", "family", "size_bin", "material", "finish"
        ),
    )


    op.create_table(
        "shop_ratio_bins",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("ref_model", sa.String(length=120), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("org_id", "ref_model", "bin"),
    )


def downgrade() -> None:
    op.drop_table("shop_ratio_bins")
    op.drop_table("shop_history_stats")
    op.drop_index("ix_history_rows_org_id_id", table_name="history_rows")
    op.drop_index("ix_history_rows_org_model_ratio", table_name="history_rows")
    with op.batch_alter_table("history_rows") as batch:  # SQLite rebuilds the table
        for name, _ in reversed(_ROW_COLUMNS):
            batch.drop_column(name)
