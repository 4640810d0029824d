"""The queue's "highest severity" order sorts by score within a severity band (#14: a post
scored 100 above one scored 85): the index it walks gains the score.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_index("ix_matches_flagged_severity")
        batch.create_index(
            "ix_matches_flagged_severity", ["flagged", "severity_rank", "score", "post_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_index("ix_matches_flagged_severity")
        batch.create_index("ix_matches_flagged_severity", ["flagged", "severity_rank", "post_id"])
