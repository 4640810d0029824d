"""Incidents (#16): attacks built from the claims of them, the posts that claim each, and the
subscription filters on sites, people and incident status.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FILTERS = ("sites", "persons", "incident_statuses")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site", sa.String(length=100), nullable=True),
        sa.Column("weapon", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_claim_at", sa.DateTime(), nullable=False),
        sa.Column("last_claim_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("corrected_by", sa.String(length=100), nullable=True),
        sa.Column("corrected_at", sa.DateTime(), nullable=True),
        sa.Column("corrected_fields", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_incidents_first_claim_at"), "incidents", ["first_claim_at"])
    op.create_index("ix_incidents_site_first", "incidents", ["site", "first_claim_at"])
    op.create_table(
        "incident_sources",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("claimant", sa.String(length=200), nullable=True),
        sa.Column("site", sa.String(length=100), nullable=True),
        sa.Column("weapon", sa.String(length=20), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("layer", sa.String(length=10), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_sources_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_incident_sources_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_incident_sources_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_sources")),
        sa.UniqueConstraint("post_id", name=op.f("uq_incident_sources_post_id")),
    )
    op.create_index(op.f("ix_incident_sources_incident_id"), "incident_sources", ["incident_id"])
    with op.batch_alter_table("subscriptions") as batch:
        for name in FILTERS:
            batch.add_column(sa.Column(name, JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        for name in reversed(FILTERS):
            batch.drop_column(name)
    op.drop_index(op.f("ix_incident_sources_incident_id"), table_name="incident_sources")
    op.drop_table("incident_sources")
    op.drop_index("ix_incidents_site_first", table_name="incidents")
    op.drop_index(op.f("ix_incidents_first_claim_at"), table_name="incidents")
    op.drop_table("incidents")
