"""Zones get free-text notes; the audit log is indexed by object (type, id).

``zones.notes`` holds the officials' notes on a zone (existing zones get ""); the
index serves "history of this zone" queries, which scan the whole log without it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``zones.notes`` and the ``ix_audit_log_object`` index."""
    with op.batch_alter_table("zones") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"])


def downgrade() -> None:
    """Drop the index and the column."""
    op.drop_index("ix_audit_log_object", table_name="audit_log")
    with op.batch_alter_table("zones") as batch:
        batch.drop_column("notes")
