"""Evidence batches (#17): a batch entry's record is one line per post the batch stored, some
95 KB for 1,000 posts of 64 hex digits each. PostgreSQL would compress it (pglz) inside the
ingest transaction, milliseconds a batch for a third off the size; stored as it is, it costs
the disk, not the ingest. SQLite does not compress: nothing to do there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _storage(mode: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE evidence_entries ALTER COLUMN payload SET STORAGE {mode}")


def upgrade() -> None:
    _storage("EXTERNAL")


def downgrade() -> None:
    _storage("EXTENDED")
