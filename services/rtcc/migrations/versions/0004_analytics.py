"""Analytics: events and plate reads, indexed for forensic search; detector configs and status.

Revision ID: 0004_analytics
Revises: 0003_ingest
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rtcc.backends.database import JSONType, UTCDateTime

revision: str = "0004_analytics"
down_revision: str | Sequence[str] | None = "0003_ingest"
branch_labels: str | Sequence[str] | None = ("analytics",)
depends_on: str | Sequence[str] | None = None

_ID = 64
# Byte order on PostgreSQL, so that prefix ranges on plates use the B-tree index.
_PLATE = sa.String(16).with_variant(postgresql.VARCHAR(16, collation="C"), "postgresql")


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(_ID), nullable=False)


def upgrade() -> None:
    op.create_table(
        "analytics_events",
        _id("id"),
        _id("camera_id"),
        _id("organization_id"),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("object_class", sa.SmallInteger(), nullable=False),
        _id("track_id"),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=False),
        sa.Column("box", JSONType, nullable=False),
        sa.Column("primary_color", sa.SmallInteger(), nullable=False),
        sa.Column("secondary_color", sa.SmallInteger(), nullable=False),
        sa.Column("vehicle_type", sa.SmallInteger(), nullable=False),
        sa.Column("attributes", JSONType, nullable=False),
        _id("zone_id"),
        _id("line_id"),
        sa.Column("crossing_direction", sa.SmallInteger(), nullable=False),
        _id("plate_read_id"),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("snapshot_key", sa.String(512), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analytics_events"),
    )
    op.create_index(
        "ix_analytics_events_camera_time", "analytics_events", ["camera_id", "event_time"]
    )
    op.create_index("ix_analytics_events_time", "analytics_events", ["event_time"])
    op.create_table(
        "analytics_plate_reads",
        _id("id"),
        _id("camera_id"),
        _id("organization_id"),
        sa.Column("read_time", UTCDateTime(), nullable=False),
        sa.Column("plate", _PLATE, nullable=False),
        sa.Column("plate_folded", _PLATE, nullable=False),
        sa.Column("characters", JSONType, nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("box", JSONType, nullable=False),
        sa.Column("vehicle_attributes", JSONType, nullable=False),
        _id("track_id"),
        _id("event_id"),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("snapshot_key", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analytics_plate_reads"),
    )
    table = "analytics_plate_reads"
    op.create_index("ix_analytics_plate_reads_plate", table, ["plate", "read_time"])
    op.create_index("ix_analytics_plate_reads_folded", table, ["plate_folded", "read_time"])
    op.create_index("ix_analytics_plate_reads_camera_time", table, ["camera_id", "read_time"])
    op.create_table(
        "analytics_detector_configs",
        _id("camera_id"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_analytics_detector_configs"),
    )
    op.create_table(
        "analytics_detector_status",
        _id("camera_id"),
        sa.Column("replica_id", sa.String(200), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("detectors", JSONType, nullable=False),
        sa.Column("input_fps", sa.Float(), nullable=False),
        sa.Column("processed_fps", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("dropped_frames", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("last_event_time", UTCDateTime(), nullable=True),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_analytics_detector_status"),
    )


def downgrade() -> None:
    op.drop_table("analytics_detector_status")
    op.drop_table("analytics_detector_configs")
    op.drop_table("analytics_plate_reads")
    op.drop_table("analytics_events")
