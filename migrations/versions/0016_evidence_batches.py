"""Evidence batches (#17): a batch entry's record is one line per post the batch stored, some
95 KB for 1,000 posts of 64 hex digits each. PostgreSQL would compress it (pglz) inside the
ingest transaction, milliseconds a batch for a third off the size; stored as it is, it costs
the disk, not the ingest. SQLite does not compress. And an index of the batch entries alone,
by their lowest post, to find a post's batch without walking the other entries.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _storage(mode: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE evidence_entries ALTER COLUMN payload SET STORAGE {mode}")


BATCH = sa.text("kind = 'batch'")


def upgrade() -> None:
    _storage("EXTERNAL")
    op.create_index(
        "ix_evidence_entries_batch_post_id",
        "evidence_entries",
        ["post_id"],
        sqlite_where=BATCH,
        postgresql_where=BATCH,
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_entries_batch_post_id", table_name="evidence_entries")
    _storage("EXTENDED")
