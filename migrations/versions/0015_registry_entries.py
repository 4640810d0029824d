"""Registry entries (#16): a console override holds any of an entry's fields, or a whole entry
added in the console, instead of its aliases and note alone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OLD = ("aliases", "note")


def _table(*columns: str) -> sa.TableClause:
    types: dict[str, Any] = {
        "fields": JSON,
        "aliases": JSON,
        "note": sa.Text(),
        "added": sa.Boolean(),
    }
    return sa.table(
        "registry_overrides",
        sa.column("kind", sa.String()),
        sa.column("ref", sa.String()),
        *(sa.column(name, types[name]) for name in columns),
    )


def upgrade() -> None:
    with op.batch_alter_table("registry_overrides") as batch:
        batch.add_column(sa.Column("fields", JSON, nullable=True))
        batch.add_column(
            sa.Column("added", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The edits made before keep their aliases and note, now two of the fields.
    conn = op.get_bind()
    old = _table("aliases", "note", "fields")
    for kind, ref, aliases, note in conn.execute(
        sa.select(old.c.kind, old.c.ref, old.c.aliases, old.c.note)
    ).all():
        fields = {k: v for k, v in (("aliases", aliases), ("note", note)) if v is not None}
        conn.execute(old.update().where(old.c.kind == kind, old.c.ref == ref).values(fields=fields))
    with op.batch_alter_table("registry_overrides") as batch:
        batch.alter_column("fields", existing_type=JSON, nullable=False)
        for name in OLD:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("registry_overrides") as batch:
        batch.add_column(sa.Column("aliases", JSON, nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    # 0014 holds an existing entry's aliases and note only: what else an edit changed, and the
    # entries added in the console, go (the files are as they were).
    conn = op.get_bind()
    new = _table("fields", "added", "aliases", "note")
    conn.execute(new.delete().where(new.c.added.is_(True)))
    for kind, ref, fields in conn.execute(sa.select(new.c.kind, new.c.ref, new.c.fields)).all():
        kept = {name: (fields or {}).get(name) for name in OLD}
        if all(v is None for v in kept.values()):
            conn.execute(new.delete().where(new.c.kind == kind, new.c.ref == ref))
        else:
            conn.execute(new.update().where(new.c.kind == kind, new.c.ref == ref).values(**kept))
    with op.batch_alter_table("registry_overrides") as batch:
        batch.drop_column("added")
        batch.drop_column("fields")
