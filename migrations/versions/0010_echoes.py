"""Echo clusters (#15): near copies of one statement across channels, the MinHash band keys
that find a post's candidates, kept in the database so every worker shares them, and the
channels posts forward, mention or link.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "echo_clusters",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_echo_clusters")),
    )
    op.create_table(
        "echo_members",
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("cluster_id", BIG_ID, nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["echo_clusters.id"],
            name=op.f("fk_echo_members_cluster_id_echo_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_echo_members_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_echo_members")),
    )
    op.create_index(op.f("ix_echo_members_cluster_id"), "echo_members", ["cluster_id"])
    op.create_table(
        "echo_bands",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_echo_bands_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_echo_bands")),
    )
    op.create_index(op.f("ix_echo_bands_post_id"), "echo_bands", ["post_id"])
    op.create_index("ix_echo_bands_key_post_id", "echo_bands", ["key", "post_id"])
    op.create_table(
        "echo_quotes",
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("quoted_id", BIG_ID, nullable=False),
        sa.Column("containment", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_echo_quotes_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["quoted_id"],
            ["posts.id"],
            name=op.f("fk_echo_quotes_quoted_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "quoted_id", name=op.f("pk_echo_quotes")),
    )
    op.create_index(op.f("ix_echo_quotes_quoted_id"), "echo_quotes", ["quoted_id"])
    op.create_table(
        "channel_refs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_refs_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_channel_refs_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_refs")),
        sa.UniqueConstraint(
            "post_id", "kind", "target", name=op.f("uq_channel_refs_post_id_kind_target")
        ),
    )
    op.create_index(op.f("ix_channel_refs_channel_id"), "channel_refs", ["channel_id"])
    op.create_index(op.f("ix_channel_refs_target"), "channel_refs", ["target"])


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_refs_target"), table_name="channel_refs")
    op.drop_index(op.f("ix_channel_refs_channel_id"), table_name="channel_refs")
    op.drop_table("channel_refs")
    op.drop_index(op.f("ix_echo_quotes_quoted_id"), table_name="echo_quotes")
    op.drop_table("echo_quotes")
    op.drop_index("ix_echo_bands_key_post_id", table_name="echo_bands")
    op.drop_index(op.f("ix_echo_bands_post_id"), table_name="echo_bands")
    op.drop_table("echo_bands")
    op.drop_index(op.f("ix_echo_members_cluster_id"), table_name="echo_members")
    op.drop_table("echo_members")
    op.drop_table("echo_clusters")
