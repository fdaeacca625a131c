"""The registry's tables (SQLAlchemy Core) on the platform's shared metadata.

The schema is created by the Alembic revision ``0002_registry``; this module must match
it (``tests/integration/registry/test_schema.py`` checks that it does).

A camera's settings live in ``spec`` as the serialised ``rtcc.registry.v1.Camera``
(without secrets or output-only fields); the columns beside it are what queries need:
the owner, the unique keys, and the geo index (``geo_band``, ``longitude``).
"""

from __future__ import annotations

import sqlalchemy as sa

from rtcc.backends.audit import audit_log
from rtcc.backends.database import JSONType, UTCDateTime, metadata

_ID = 64
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

organizations = sa.Table(
    "registry_organizations",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("kind", sa.SmallInteger(), nullable=False),
    sa.Column("contact_email", sa.String(200), nullable=False, server_default=""),
    sa.Column("revision", sa.BigInteger(), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("update_time", UTCDateTime(), nullable=False),
)

cameras = sa.Table(
    "registry_cameras",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column(
        "organization_id",
        sa.String(_ID),
        sa.ForeignKey("registry_organizations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("external_id", sa.String(100), nullable=True),
    sa.Column("main_url", sa.String(2048), nullable=True),
    sa.Column("latitude", sa.Double(), nullable=False),
    sa.Column("longitude", sa.Double(), nullable=False),
    sa.Column("geo_band", sa.Integer(), nullable=False),
    sa.Column("heading_degrees", sa.Double(), nullable=True),
    sa.Column("angle_degrees", sa.Double(), nullable=True),
    sa.Column("range_meters", sa.Double(), nullable=True),
    sa.Column("spec", sa.LargeBinary(), nullable=False),
    # Fernet token of the stream credentials; never leaves the store except to ingest.
    sa.Column("credentials", sa.LargeBinary(), nullable=True),
    # Revision of the last change to the settings: the camera's etag.
    sa.Column("revision", sa.BigInteger(), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("update_time", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("organization_id", "external_id"),
    sa.UniqueConstraint("organization_id", "main_url"),
    # Covering: a search reads its candidates from the index alone.
    sa.Index(
        "ix_registry_cameras_geo",
        "geo_band",
        "longitude",
        "latitude",
        "organization_id",
        "id",
        "heading_degrees",
        "angle_degrees",
        "range_meters",
    ),
    sa.Index("ix_registry_cameras_org", "organization_id", "id"),
)

camera_tags = sa.Table(
    "registry_camera_tags",
    metadata,
    sa.Column(
        "camera_id",
        sa.String(_ID),
        sa.ForeignKey("registry_cameras.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("tag", sa.String(63), primary_key=True),
    sa.Index("ix_registry_camera_tags_tag", "tag", "camera_id"),
)

camera_health = sa.Table(
    "registry_camera_health",
    metadata,
    sa.Column(
        "camera_id",
        sa.String(_ID),
        sa.ForeignKey("registry_cameras.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("status", sa.SmallInteger(), nullable=False),
    sa.Column("last_seen_time", UTCDateTime(), nullable=True),
    sa.Column("frames_per_second", sa.Double(), nullable=False),
    sa.Column("bitrate_bps", sa.BigInteger(), nullable=False),
    sa.Column("detail", sa.String(200), nullable=False),
    sa.Column("report_time", UTCDateTime(), nullable=False),
)

grants = sa.Table(
    "registry_grants",
    metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column(
        "grantor_org_id",
        sa.String(_ID),
        sa.ForeignKey("registry_organizations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column(
        "grantee_org_id",
        sa.String(_ID),
        sa.ForeignKey("registry_organizations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("all_cameras", sa.Boolean(), nullable=False),
    sa.Column("live", sa.Boolean(), nullable=False),
    sa.Column("recorded", sa.Boolean(), nullable=False),
    sa.Column("schedule", JSONType, nullable=True),
    sa.Column("start_time", UTCDateTime(), nullable=True),
    sa.Column("expire_time", UTCDateTime(), nullable=True),
    sa.Column("revoke_time", UTCDateTime(), nullable=True),
    sa.Column("revoke_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("creator_subject", sa.String(255), nullable=False),
    sa.Column("creator_org_id", sa.String(_ID), nullable=False),
    # Whether the sweeper has announced the grant's expiry on the change feed.
    sa.Column("expiry_announced", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("revision", sa.BigInteger(), nullable=False),
    sa.Column("create_time", UTCDateTime(), nullable=False),
    sa.Column("update_time", UTCDateTime(), nullable=False),
    sa.Index("ix_registry_grants_grantee", "grantee_org_id", "revoke_time"),
    sa.Index("ix_registry_grants_grantor", "grantor_org_id", "revoke_time"),
)

grant_cameras = sa.Table(
    "registry_grant_cameras",
    metadata,
    sa.Column(
        "grant_id",
        sa.String(_ID),
        sa.ForeignKey("registry_grants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # No foreign key: the membership outlives a deleted camera until its DELETED change
    # has been pruned, so that grantees watching the feed are told of the deletion.
    sa.Column("camera_id", sa.String(_ID), primary_key=True),
    sa.Index("ix_registry_grant_cameras_camera", "camera_id", "grant_id"),
)

# One row per change, in commit order: the feed behind WatchCameras.
changes = sa.Table(
    "registry_changes",
    metadata,
    sa.Column("revision", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("change_type", sa.SmallInteger(), nullable=False),
    sa.Column("camera_id", sa.String(_ID), nullable=True),
    sa.Column("organization_id", sa.String(_ID), nullable=False),
    sa.Column("grantee_org_id", sa.String(_ID), nullable=True),
    # The serialised Camera (settings, no secrets) or SharingGrant after the change.
    sa.Column("payload", sa.LargeBinary(), nullable=True),
    sa.Column("change_time", UTCDateTime(), nullable=False),
    sa.Index("ix_registry_changes_time", "change_time"),
)

# A single row (id = 1). Writers increment `revision` first in their transaction: the
# row lock orders commits, so revisions become visible in increasing order and a
# watcher that has read revision N never later finds a smaller one appear.
state = sa.Table(
    "registry_state",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger(), nullable=False),
    # Changes up to this revision have been pruned; older resume points are refused.
    sa.Column("compacted_revision", sa.BigInteger(), nullable=False),
    # Revision of the last grant change: replicas cache grants per organisation under it.
    sa.Column("grants_revision", sa.BigInteger(), nullable=False),
)

# Which organisations may read an audit entry: the resource's owner, and for grants
# the grantee too. The shared audit_log records only the actor's organisation.
audit_orgs = sa.Table(
    "registry_audit_orgs",
    metadata,
    sa.Column("organization_id", sa.String(_ID), primary_key=True),
    sa.Column(
        "audit_id",
        BigInt,
        sa.ForeignKey(audit_log.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
)
