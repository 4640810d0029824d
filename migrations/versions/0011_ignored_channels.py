"""Discovered channels an operator ignored (#15), so the discovered list shows what is left to
triage.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ignored_channels",
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("ignored_by", sa.String(length=100), nullable=False),
        sa.Column("ignored_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("target", name=op.f("pk_ignored_channels")),
    )


def downgrade() -> None:
    op.drop_table("ignored_channels")
