"""Registry: organisations, cameras, health, sharing grants, change feed.

Revision ID: 0002_registry
Revises: 0001_base
Create Date: 2026-02-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rtcc.backends.database import JSONType, UTCDateTime

revision: str = "0002_registry"
down_revision: str | Sequence[str] | None = "0001_base"
branch_labels: str | Sequence[str] | None = ("registry",)
depends_on: str | Sequence[str] | None = None

_ID = 64
_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "registry_organizations",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("contact_email", sa.String(200), nullable=False, server_default=""),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_registry_organizations"),
    )
    _create_cameras()
    _create_grants()
    op.create_table(
        "registry_changes",
        sa.Column("revision", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("change_type", sa.SmallInteger(), nullable=False),
        sa.Column("camera_id", sa.String(_ID), nullable=True),
        sa.Column("organization_id", sa.String(_ID), nullable=False),
        sa.Column("grantee_org_id", sa.String(_ID), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("change_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("revision", name="pk_registry_changes"),
    )
    op.create_index("ix_registry_changes_time", "registry_changes", ["change_time"])
    state = op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("compacted_revision", sa.BigInteger(), nullable=False),
        sa.Column("grants_revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_state"),
    )
    op.bulk_insert(state, [{"id": 1, "revision": 0, "compacted_revision": 0, "grants_revision": 0}])
    op.create_table(
        "registry_audit_orgs",
        sa.Column("organization_id", sa.String(_ID), nullable=False),
        sa.Column("audit_id", _BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_id"],
            ["audit_log.id"],
            name="fk_registry_audit_orgs_audit_id_audit_log",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "audit_id", name="pk_registry_audit_orgs"),
    )


def _create_cameras() -> None:
    op.create_table(
        "registry_cameras",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("organization_id", sa.String(_ID), nullable=False),
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
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_registry_cameras"),
        _fk("registry_cameras", "organization_id", "registry_organizations", "RESTRICT"),
        sa.UniqueConstraint(
            "organization_id",
            "external_id",
            name="uq_registry_cameras_organization_id_external_id",
        ),
        sa.UniqueConstraint(
            "organization_id", "main_url", name="uq_registry_cameras_organization_id_main_url"
        ),
    )
    # Covering: a search reads its candidates from the index alone.
    op.create_index(
        "ix_registry_cameras_geo",
        "registry_cameras",
        [
            "geo_band",
            "longitude",
            "latitude",
            "organization_id",
            "id",
            "heading_degrees",
            "angle_degrees",
            "range_meters",
        ],
    )
    op.create_index("ix_registry_cameras_org", "registry_cameras", ["organization_id", "id"])
    op.create_table(
        "registry_camera_tags",
        sa.Column("camera_id", sa.String(_ID), nullable=False),
        sa.Column("tag", sa.String(63), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "tag", name="pk_registry_camera_tags"),
        _fk("registry_camera_tags", "camera_id", "registry_cameras", "CASCADE"),
    )
    op.create_index("ix_registry_camera_tags_tag", "registry_camera_tags", ["tag", "camera_id"])
    op.create_table(
        "registry_camera_health",
        sa.Column("camera_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("last_seen_time", UTCDateTime(), nullable=True),
        sa.Column("frames_per_second", sa.Double(), nullable=False),
        sa.Column("bitrate_bps", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("report_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_registry_camera_health"),
        _fk("registry_camera_health", "camera_id", "registry_cameras", "CASCADE"),
    )


def _create_grants() -> None:
    op.create_table(
        "registry_grants",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("grantor_org_id", sa.String(_ID), nullable=False),
        sa.Column("grantee_org_id", sa.String(_ID), nullable=False),
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
        sa.Column("expiry_announced", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_registry_grants"),
        _fk("registry_grants", "grantor_org_id", "registry_organizations", "RESTRICT"),
        _fk("registry_grants", "grantee_org_id", "registry_organizations", "RESTRICT"),
    )
    op.create_index(
        "ix_registry_grants_grantee", "registry_grants", ["grantee_org_id", "revoke_time"]
    )
    op.create_index(
        "ix_registry_grants_grantor", "registry_grants", ["grantor_org_id", "revoke_time"]
    )
    op.create_table(
        "registry_grant_cameras",
        sa.Column("grant_id", sa.String(_ID), nullable=False),
        sa.Column("camera_id", sa.String(_ID), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "camera_id", name="pk_registry_grant_cameras"),
        _fk("registry_grant_cameras", "grant_id", "registry_grants", "CASCADE"),
    )
    op.create_index(
        "ix_registry_grant_cameras_camera", "registry_grant_cameras", ["camera_id", "grant_id"]
    )


def downgrade() -> None:
    for table in (
        "registry_audit_orgs",
        "registry_state",
        "registry_changes",
        "registry_grant_cameras",
        "registry_grants",
        "registry_camera_health",
        "registry_camera_tags",
        "registry_cameras",
        "registry_organizations",
    ):
        op.drop_table(table)
