"""Channels get a kind: group, leader, media or news (#12, interface.md "Channel kinds").

Existing channels become `group`, the kind they were scored as until now: nothing that flags
today stops flagging until an operator says a channel only reports on others (`news`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "channels",
        sa.Column("kind", sa.String(length=20), server_default="group", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("kind")
