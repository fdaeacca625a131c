"""Analytics: event search indexes, one ordered range per camera (and per camera and type).

Event search merges, per visible camera, the newest events of that camera
(``rtcc.analytics.event_search``); these indexes give each branch its range in search
order, ties on ``event_time`` broken by ``id`` as the page token is, and carry the
criteria a search filters on. They replace ``(camera_id, event_time)``, whose every use
the first serves.

Building them takes a lock that holds event writes for the duration (minutes per 10
million events); run it with ingest paused or accept that delay.

Revision ID: 0009_events_search
Revises: 0004_analytics
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_events_search"
down_revision: str | Sequence[str] | None = "0004_analytics"
branch_labels: str | Sequence[str] | None = ("events_search",)
depends_on: str | Sequence[str] | None = None

_TABLE = "analytics_events"
# After the search order, the criteria searches filter on: checked on the index entry,
# so that a branch reads only the events that match (on PostgreSQL, after VACUUM, an
# index-only scan).
_FILTERS = ["object_class", "primary_color", "secondary_color", "vehicle_type", "confidence"]


def upgrade() -> None:
    op.create_index(
        "ix_analytics_events_camera_time_id",
        _TABLE,
        ["camera_id", "event_time", "id", "type", *_FILTERS],
    )
    op.create_index(
        "ix_analytics_events_camera_type_time_id",
        _TABLE,
        ["camera_id", "type", "event_time", "id", *_FILTERS],
    )
    op.drop_index("ix_analytics_events_camera_time", table_name=_TABLE)


def downgrade() -> None:
    op.create_index("ix_analytics_events_camera_time", _TABLE, ["camera_id", "event_time"])
    op.drop_index("ix_analytics_events_camera_type_time_id", table_name=_TABLE)
    op.drop_index("ix_analytics_events_camera_time_id", table_name=_TABLE)
