"""Ingest: segment index, camera leases, replica heartbeats, stream health, retention runs.

Revision ID: 0003_ingest
Revises: 0002_registry
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rtcc.backends.database import UTCDateTime

revision: str = "0003_ingest"
down_revision: str | Sequence[str] | None = "0002_registry"
branch_labels: str | Sequence[str] | None = ("ingest",)
depends_on: str | Sequence[str] | None = None

_ID = 64


def upgrade() -> None:
    op.create_table(
        "ingest_segments",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("camera_id", sa.String(_ID), nullable=False),
        sa.Column("stream", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=False),
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("video_codec", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("frame_rate", sa.Double(), nullable=False),
        sa.Column("discontinuity", sa.Boolean(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("expire_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_segments"),
        sa.UniqueConstraint("camera_id", "stream", "start_time", name="uq_ingest_segments_start"),
    )
    op.create_index("ix_ingest_segments_expire", "ingest_segments", ["expire_time"])
    op.create_table(
        "ingest_leases",
        sa.Column("camera_id", sa.String(_ID), nullable=False),
        sa.Column("pool", sa.SmallInteger(), nullable=False),
        sa.Column("replica_id", sa.String(200), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("acquire_time", UTCDateTime(), nullable=False),
        sa.Column("renew_time", UTCDateTime(), nullable=False),
        sa.Column("expire_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "pool", name="pk_ingest_leases"),
    )
    op.create_table(
        "ingest_replicas",
        sa.Column("replica_id", sa.String(200), nullable=False),
        sa.Column("pool", sa.SmallInteger(), nullable=False),
        sa.Column("expire_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("replica_id", "pool", name="pk_ingest_replicas"),
    )
    _create_statuses_and_runs()


def _create_statuses_and_runs() -> None:
    op.create_table(
        "ingest_stream_statuses",
        sa.Column("camera_id", sa.String(_ID), nullable=False),
        sa.Column("stream", sa.SmallInteger(), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("replica_id", sa.String(200), nullable=False),
        sa.Column("fps", sa.Double(), nullable=False),
        sa.Column("bitrate_bps", sa.BigInteger(), nullable=False),
        sa.Column("recording", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=False),
        sa.Column("last_error_time", UTCDateTime(), nullable=True),
        sa.Column("last_packet_time", UTCDateTime(), nullable=True),
        sa.Column("state_change_time", UTCDateTime(), nullable=False),
        sa.Column("reconnect_count", sa.BigInteger(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "stream", name="pk_ingest_stream_statuses"),
    )
    op.create_table(
        "ingest_retention_runs",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("cutoff_time", UTCDateTime(), nullable=False),
        sa.Column("segments_deleted", sa.BigInteger(), nullable=False),
        sa.Column("bytes_deleted", sa.BigInteger(), nullable=False),
        sa.Column("segments_held", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(1000), nullable=False),
        sa.Column("trigger", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_retention_runs"),
    )


def downgrade() -> None:
    for table in (
        "ingest_retention_runs",
        "ingest_stream_statuses",
        "ingest_replicas",
        "ingest_leases",
    ):
        op.drop_table(table)
    op.drop_index("ix_ingest_segments_expire", table_name="ingest_segments")
    op.drop_table("ingest_segments")
