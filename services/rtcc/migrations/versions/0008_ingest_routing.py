"""Ingest routing: a lease names the gRPC address at which its holder is reached.

Revision ID: 0008_ingest_routing
Revises: 0004_analytics
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_ingest_routing"
down_revision: str | Sequence[str] | None = "0004_analytics"
branch_labels: str | Sequence[str] | None = ("ingest_routing",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_leases") as table:
        # HOST:PORT of the holder's gRPC server (ingest.advertise_address); '' for
        # holders that serve no live streams (analytics replicas) or rows written before.
        table.add_column(sa.Column("address", sa.String(300), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("ingest_leases") as table:
        table.drop_column("address")
