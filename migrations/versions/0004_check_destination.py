"""Alerts: subscriptions saved from the console have their hosts checked before each delivery.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("check_destination", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # The console is the only way to give a subscription an owner: the CLI saves none.
    op.execute(
        sa.text(
            "UPDATE subscriptions SET check_destination = :yes WHERE owner_id IS NOT NULL"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("check_destination")
