"""The analytics tables (SQLAlchemy Core) on the platform's shared metadata.

Created by the Alembic revision ``0004_analytics`` (events' search indexes by
``0009_events_search``); this module must match them
(``tests/integration/analytics/test_store.py`` migrates a fresh database and uses it).

Search paths and the indexes that serve them:
* events by camera and time, newest first: ``(camera_id, event_time, id, ...)``, and by
  camera, type and time: ``(camera_id, type, event_time, id, ...)`` (revision
  ``0009_events_search``), each ending in the class, colours, vehicle type and confidence
  so that those criteria are checked on index entries; a search merges one such range per
  visible camera (``rtcc.analytics.event_search``). By time across all cameras:
  ``(event_time)``. Zones are filtered on the rows a range reads.
* plate reads: exact and prefix on ``(plate, read_time)``, fuzzy on
  ``(plate_folded, read_time)`` (see ``rtcc.analytics.plates``), and by camera and time.
  Plate columns use the C collation on PostgreSQL so that prefix ranges follow byte order.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from rtcc.backends.database import JSONType, UTCDateTime, metadata

_ID = 64
PlateText = sa.String(16).with_variant(postgresql.VARCHAR(16, collation="C"), "postgresql")

_EVENT_FILTERS = ("object_class", "primary_color", "secondary_color", "vehicle_type", "confidence")

events = sa.Table(
    "analytics_events",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("camera_id", sa.String(_ID), nullable=False),
    sa.Column("organization_id", sa.String(_ID), nullable=False),
    sa.Column("type", sa.SmallInteger(), nullable=False),
    sa.Column("object_class", sa.SmallInteger(), nullable=False),
    sa.Column("track_id", sa.String(_ID), nullable=False),
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("event_time", UTCDateTime(), nullable=False),
    sa.Column("start_time", UTCDateTime(), nullable=False),
    sa.Column("box", JSONType, nullable=False),
    sa.Column("primary_color", sa.SmallInteger(), nullable=False),
    sa.Column("secondary_color", sa.SmallInteger(), nullable=False),
    sa.Column("vehicle_type", sa.SmallInteger(), nullable=False),
    sa.Column("attributes", JSONType, nullable=False),
    sa.Column("zone_id", sa.String(_ID), nullable=False),
    sa.Column("line_id", sa.String(_ID), nullable=False),
    sa.Column("crossing_direction", sa.SmallInteger(), nullable=False),
    sa.Column("plate_read_id", sa.String(_ID), nullable=False),
    sa.Column("latitude", sa.Double(), nullable=True),
    sa.Column("longitude", sa.Double(), nullable=True),
    sa.Column("snapshot_key", sa.String(512), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    # After the search order, the criteria a search filters on: checked on the index
    # entry, so that only matching events are read (revision 0009_events_search).
    sa.Index(
        "ix_analytics_events_camera_time_id",
        *("camera_id", "event_time", "id", "type", *_EVENT_FILTERS),
    ),
    sa.Index(
        "ix_analytics_events_camera_type_time_id",
        *("camera_id", "type", "event_time", "id", *_EVENT_FILTERS),
    ),
    sa.Index("ix_analytics_events_time", "event_time"),
)

plate_reads = sa.Table(
    "analytics_plate_reads",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("camera_id", sa.String(_ID), nullable=False),
    sa.Column("organization_id", sa.String(_ID), nullable=False),
    sa.Column("read_time", UTCDateTime(), nullable=False),
    sa.Column("plate", PlateText, nullable=False),
    sa.Column("plate_folded", PlateText, nullable=False),
    sa.Column("characters", JSONType, nullable=False),
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("region", sa.String(16), nullable=False),
    sa.Column("box", JSONType, nullable=False),
    sa.Column("vehicle_attributes", JSONType, nullable=False),
    sa.Column("track_id", sa.String(_ID), nullable=False),
    sa.Column("event_id", sa.String(_ID), nullable=False),
    sa.Column("latitude", sa.Double(), nullable=True),
    sa.Column("longitude", sa.Double(), nullable=True),
    sa.Column("snapshot_key", sa.String(512), nullable=False),
    sa.Index("ix_analytics_plate_reads_plate", "plate", "read_time"),
    sa.Index("ix_analytics_plate_reads_folded", "plate_folded", "read_time"),
    sa.Index("ix_analytics_plate_reads_camera_time", "camera_id", "read_time"),
)

detector_configs = sa.Table(
    "analytics_detector_configs",
    metadata,
    sa.Column("camera_id", sa.String(_ID), primary_key=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    # The serialised rtcc.analytics.v1.DetectorConfig (without output-only fields).
    sa.Column("spec", sa.LargeBinary(), nullable=False),
    sa.Column("etag", sa.String(32), nullable=False),
    sa.Column("update_time", UTCDateTime(), nullable=False),
)

detector_status = sa.Table(
    "analytics_detector_status",
    metadata,
    sa.Column("camera_id", sa.String(_ID), primary_key=True),
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
)
