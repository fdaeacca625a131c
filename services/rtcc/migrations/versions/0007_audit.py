"""Audit: each entry says how the attempt ended (ok, denied, failed) and why.

Revision ID: 0007_audit
Revises: 0004_analytics
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_audit"
down_revision: str | Sequence[str] | None = "0004_analytics"
branch_labels: str | Sequence[str] | None = ("audit",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as table:
        # Entries written before this revision recorded completed changes only.
        table.add_column(sa.Column("outcome", sa.String(16), nullable=False, server_default="ok"))
        table.add_column(sa.Column("reason", sa.String(255), nullable=True))
    # "Quote request id X": find every entry of one call.
    op.create_index("ix_audit_log_request_id", "audit_log", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_request_id", table_name="audit_log")
    with op.batch_alter_table("audit_log") as table:
        table.drop_column("reason")
        table.drop_column("outcome")
