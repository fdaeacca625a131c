"""The ingest service's tables (SQLAlchemy Core) on the platform's shared metadata.

Created by the Alembic revision ``0003_ingest``; this module must match it.
"""

from __future__ import annotations

import sqlalchemy as sa

from rtcc.backends.database import UTCDateTime, metadata

_ID = 64

# The segment index: one row per stored segment, unique per (camera, stream, start) so
# that re-uploading a spooled segment after a crash is an idempotent upsert.
segments = sa.Table(
    "ingest_segments",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
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
    # True when the recording broke (reconnect, clock jump) just before this segment.
    sa.Column("discontinuity", sa.Boolean(), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("expire_time", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("camera_id", "stream", "start_time", name="uq_ingest_segments_start"),
    sa.Index("ix_ingest_segments_expire", "expire_time"),
)

# Who records which camera: one row per (camera, pool); `epoch` fences stale holders.
leases = sa.Table(
    "ingest_leases",
    metadata,
    sa.Column("camera_id", sa.String(_ID), primary_key=True),
    sa.Column("pool", sa.SmallInteger(), primary_key=True),
    sa.Column("replica_id", sa.String(200), nullable=False),
    sa.Column("epoch", sa.BigInteger(), nullable=False),
    sa.Column("acquire_time", UTCDateTime(), nullable=False),
    sa.Column("renew_time", UTCDateTime(), nullable=False),
    sa.Column("expire_time", UTCDateTime(), nullable=False),
    # Where the holder's gRPC API is reached (revision 0008_ingest_routing): replicas
    # proxy a camera's live streams there (routing.py).
    sa.Column("address", sa.String(300), nullable=False, server_default=""),
)

# Live replicas of each pool (heartbeats), so a replica without leases still counts
# when the pool computes each replica's fair share.
replicas = sa.Table(
    "ingest_replicas",
    metadata,
    sa.Column("replica_id", sa.String(200), primary_key=True),
    sa.Column("pool", sa.SmallInteger(), primary_key=True),
    sa.Column("expire_time", UTCDateTime(), nullable=False),
)

# Last known health of each camera stream, written by the replica connected to it.
stream_statuses = sa.Table(
    "ingest_stream_statuses",
    metadata,
    sa.Column("camera_id", sa.String(_ID), primary_key=True),
    sa.Column("stream", sa.SmallInteger(), primary_key=True),
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
)

retention_runs = sa.Table(
    "ingest_retention_runs",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("state", sa.SmallInteger(), nullable=False),
    sa.Column("start_time", UTCDateTime(), nullable=False),
    sa.Column("end_time", UTCDateTime(), nullable=True),
    sa.Column("cutoff_time", UTCDateTime(), nullable=False),
    sa.Column("segments_deleted", sa.BigInteger(), nullable=False),
    sa.Column("bytes_deleted", sa.BigInteger(), nullable=False),
    sa.Column("segments_held", sa.BigInteger(), nullable=False),
    sa.Column("error", sa.String(1000), nullable=False),
    sa.Column("trigger", sa.String(200), nullable=False),
)
