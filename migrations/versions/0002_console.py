"""Console: full-text search over the normalised text of every post.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The search index holds the matcher's normalised fold of each post (diacritics, hamza and letter
shapes folded), never the raw text, so a query folded the same way finds every spelling.
SQLite keeps it in an FTS5 table keyed by post id; PostgreSQL in a tsvector table with a GIN
index ('simple' configuration: no stemming, which knows no Arabic anyway).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE post_fts USING fts5("
            "body, tokenize = 'unicode61 remove_diacritics 0')"
        )
    else:
        op.execute(
            "CREATE TABLE post_search ("
            "post_id BIGINT PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE, "
            "tsv TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_post_search_tsv ON post_search USING GIN (tsv)")
    _backfill(bind)


def _backfill(bind: sa.Connection) -> None:
    from monitor.store.search import write_index

    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, text FROM posts WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": _BATCH},
        ).all()
        if not rows:
            return
        write_index(bind, [(r[0], r[1] or "") for r in rows], fresh=True)
        last = rows[-1][0]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS post_fts")
    else:
        op.execute("DROP TABLE IF EXISTS post_search")
