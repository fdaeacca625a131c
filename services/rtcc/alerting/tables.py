"""The alerting tables (SQLAlchemy Core) on the platform's shared metadata.

Created by the Alembic revision ``0005_alerting`` (which creates exactly these tables;
a later change to them comes as a new revision). ``recording_holds`` is shared data:
ingest's retention reads it (never deletes a segment overlapping an active hold) and
the evidence service adopts or releases holds; docs/alerting.md gives its shape.
"""

from __future__ import annotations

import sqlalchemy as sa

from rtcc.backends.database import JSONType, UTCDateTime, metadata

_ID = 64
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id(name: str, **kw: object) -> sa.Column[str]:
    return sa.Column(name, sa.String(_ID), nullable=False, **kw)  # type: ignore[arg-type]


external_events = sa.Table(
    "alerting_external_events",
    metadata,
    _id("id", primary_key=True),
    _id("organization_id"),
    sa.Column("idempotency_key", sa.String(400), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("source_event_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("type", sa.SmallInteger(), nullable=False),
    sa.Column("revision", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("latitude", sa.Double(), nullable=True),
    sa.Column("longitude", sa.Double(), nullable=True),
    sa.Column("accuracy_m", sa.Double(), nullable=False),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("summary", sa.String(500), nullable=False),
    sa.Column("severity", sa.SmallInteger(), nullable=False),
    sa.Column("event_time", UTCDateTime(), nullable=False),
    sa.Column("receive_time", UTCDateTime(), nullable=False),
    sa.Column("details", JSONType, nullable=False),
    # The message exactly as received, and its SHA-256 (hex).
    sa.Column("raw", sa.LargeBinary(), nullable=False),
    sa.Column("raw_sha256", sa.String(64), nullable=False),
    sa.Column("raw_content_type", sa.String(100), nullable=False),
    sa.Column("alert_id", sa.String(_ID), nullable=False),
    sa.UniqueConstraint("organization_id", "idempotency_key", name="uq_alerting_ext_idem"),
    sa.Index("ix_alerting_ext_source", "organization_id", "source", "source_event_id"),
    sa.Index("ix_alerting_ext_time", "organization_id", "event_time"),
)

alerts = sa.Table(
    "alerting_alerts",
    metadata,
    _id("id", primary_key=True),
    _id("organization_id"),
    _id("rule_id"),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("severity", sa.SmallInteger(), nullable=False),
    sa.Column("state", sa.SmallInteger(), nullable=False),
    sa.Column("latitude", sa.Double(), nullable=True),
    sa.Column("longitude", sa.Double(), nullable=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("source_event_id", sa.String(200), nullable=False),
    # Source revision last applied (updates with a lower one are out of order).
    sa.Column("source_revision", sa.BigInteger(), nullable=False),
    # Duplicate key (lifecycle.merge_key) while the alert is open; "" when none.
    sa.Column("merge_key", sa.String(400), nullable=False),
    sa.Column("first_trigger_time", UTCDateTime(), nullable=False),
    sa.Column("last_trigger_time", UTCDateTime(), nullable=False),
    sa.Column("trigger_count", sa.Integer(), nullable=False),
    sa.Column("triggers", JSONType, nullable=False),
    sa.Column("notes", JSONType, nullable=False),
    sa.Column("assignee", sa.String(255), nullable=False),
    sa.Column("assigned_unit", sa.String(64), nullable=False),
    sa.Column("outcome", sa.SmallInteger(), nullable=False),
    sa.Column("dismiss_reason", sa.String(4000), nullable=False),
    sa.Column("escalation_level", sa.Integer(), nullable=False),
    sa.Column("merged_into", sa.String(_ID), nullable=False),
    sa.Column("correlation", JSONType, nullable=False),
    sa.Column("details", JSONType, nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("acknowledge_time", UTCDateTime(), nullable=True),
    sa.Column("resolve_time", UTCDateTime(), nullable=True),
    sa.Column("update_time", UTCDateTime(), nullable=False),
    sa.Column("etag", sa.String(32), nullable=False),
    sa.Column("sequence", sa.BigInteger(), nullable=False),
    sa.Index("ix_alerting_alerts_org_time", "organization_id", "create_time"),
    sa.Index("ix_alerting_alerts_source", "organization_id", "source", "source_event_id"),
    sa.Index("ix_alerting_alerts_geo", "organization_id", "latitude", "longitude"),
    sa.Index("ix_alerting_alerts_state", "state", "create_time"),
    sa.Index("ix_alerting_alerts_merge", "organization_id", "merge_key"),
)

# The change log: one row per alert change; its sequence is the StreamAlerts cursor.
alert_changes = sa.Table(
    "alerting_alert_changes",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    _id("alert_id"),
    _id("organization_id"),
    sa.Column("change", sa.SmallInteger(), nullable=False),
    sa.Column("time", UTCDateTime(), nullable=False),
    sa.Index("ix_alerting_changes_org", "organization_id", "seq"),
)

rules = sa.Table(
    "alerting_rules",
    metadata,
    _id("id", primary_key=True),
    _id("organization_id"),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    # The serialised rtcc.alerting.v1.Rule (output-only fields cleared).
    sa.Column("spec", sa.LargeBinary(), nullable=False),
    sa.Column("creator", sa.String(255), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("update_time", UTCDateTime(), nullable=False),
    sa.Column("etag", sa.String(32), nullable=False),
    sa.Index("ix_alerting_rules_org", "organization_id", "display_name"),
)

channels = sa.Table(
    "alerting_channels",
    metadata,
    _id("id", primary_key=True),
    _id("organization_id"),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    # The serialised NotificationChannel without the webhook secret.
    sa.Column("spec", sa.LargeBinary(), nullable=False),
    sa.Column("secret", sa.String(500), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("update_time", UTCDateTime(), nullable=False),
    sa.Column("etag", sa.String(32), nullable=False),
)

# The notification outbox: written with the alert change, delivered with retries.
deliveries = sa.Table(
    "alerting_deliveries",
    metadata,
    _id("id", primary_key=True),
    _id("alert_id"),
    _id("channel_id"),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("next_attempt_time", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.String(1000), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Index("ix_alerting_deliveries_due", "state", "next_attempt_time"),
)

# Liveness of each source feed (heartbeats) and the system alert raised when silent.
source_status = sa.Table(
    "alerting_source_status",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    _id("organization_id"),
    sa.Column("last_heartbeat_time", UTCDateTime(), nullable=True),
    sa.Column("last_message_time", UTCDateTime(), nullable=True),
    sa.Column("silent_alert_id", sa.String(_ID), nullable=False),
)

hotlists = sa.Table(
    "alerting_hotlists",
    metadata,
    _id("id", primary_key=True),
    _id("organization_id"),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("source_url", sa.String(2000), nullable=False),
    sa.Column("delimiter", sa.String(1), nullable=False),
    sa.Column("refresh_s", sa.Integer(), nullable=False),
    sa.Column("max_age_s", sa.Integer(), nullable=False),
    sa.Column("severity", sa.SmallInteger(), nullable=False),
    sa.Column("max_substitutions", sa.SmallInteger(), nullable=False),
    sa.Column("entry_count", sa.Integer(), nullable=False),
    sa.Column("import_time", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(1000), nullable=False),
    sa.Column("stale_alert_id", sa.String(_ID), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
)

hotlist_entries = sa.Table(
    "alerting_hotlist_entries",
    metadata,
    sa.Column("hotlist_id", sa.String(_ID), primary_key=True),
    sa.Column("line", sa.Integer(), primary_key=True),
    sa.Column("plate", sa.String(16), nullable=False),
    sa.Column("plate_state", sa.String(8), nullable=False),
    sa.Column("category", sa.String(60), nullable=False),
    sa.Column("effective_time", UTCDateTime(), nullable=True),
    sa.Column("expire_time", UTCDateTime(), nullable=True),
)

hotlist_hits = sa.Table(
    "alerting_hotlist_hits",
    metadata,
    _id("id", primary_key=True),
    _id("organization_id"),
    _id("hotlist_id"),
    _id("plate_read_id"),
    sa.Column("read_plate", sa.String(16), nullable=False),
    _id("camera_id"),
    sa.Column("read_time", UTCDateTime(), nullable=False),
    sa.Column("latitude", sa.Double(), nullable=True),
    sa.Column("longitude", sa.Double(), nullable=True),
    sa.Column("entry", JSONType, nullable=False),
    sa.Column("match_type", sa.SmallInteger(), nullable=False),
    sa.Column("substitutions", sa.SmallInteger(), nullable=False),
    sa.Column("state", sa.SmallInteger(), nullable=False),
    sa.Column("verifier_subject", sa.String(255), nullable=False),
    sa.Column("verifier_org", sa.String(_ID), nullable=False),
    sa.Column("verify_time", UTCDateTime(), nullable=True),
    sa.Column("verify_note", sa.String(4000), nullable=False),
    sa.Column("alert_id", sa.String(_ID), nullable=False),
    sa.UniqueConstraint("hotlist_id", "plate_read_id", name="uq_alerting_hits_read"),
    sa.Index("ix_alerting_hits_org_time", "organization_id", "read_time"),
)

# Shared with ingest (retention honours active holds) and evidence (adopts/releases).
recording_holds = sa.Table(
    "recording_holds",
    metadata,
    _id("id", primary_key=True),
    _id("organization_id"),
    _id("camera_id"),
    sa.Column("start_time", UTCDateTime(), nullable=False),
    sa.Column("end_time", UTCDateTime(), nullable=False),
    sa.Column("holder_type", sa.String(32), nullable=False),  # alert | case
    sa.Column("holder_id", sa.String(_ID), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("creator", sa.String(255), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("release_time", UTCDateTime(), nullable=True),
    sa.Column("released_by", sa.String(255), nullable=False),
    sa.Column("released_by_org", sa.String(_ID), nullable=False),
    sa.Column("release_reason", sa.String(4000), nullable=False),
    sa.Index("ix_recording_holds_camera", "camera_id", "start_time"),
    sa.Index("ix_recording_holds_holder", "holder_type", "holder_id"),
)

TABLES = (
    external_events,
    alerts,
    alert_changes,
    rules,
    channels,
    deliveries,
    source_status,
    hotlists,
    hotlist_entries,
    hotlist_hits,
    recording_holds,
)
