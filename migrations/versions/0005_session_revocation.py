"""Console: a per-user session epoch, so that logout, a new password, disabling and a role
change end that user's sessions server-side; login checks in flight, so that parallel guesses
cannot overrun the login limit (#11).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Cookies issued before this revision carry no epoch and are refused: everyone signs in
    # once more, which is what an upgrade closing a session hole should cost.
    op.add_column(
        "users",
        sa.Column("session_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "login_failures",
        sa.Column("pending", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_login_failures_user", "login_failures", ["username", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_user", table_name="login_failures")
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("pending")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_epoch")
