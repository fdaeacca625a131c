"""Evidence: cases, items, the custody log (RFC 9162 Merkle tree), export jobs, share
links, evidence requests and packages.

Revision ID: 0006_evidence
Revises: 0004_analytics
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rtcc.backends.database import JSONType, UTCDateTime

revision: str = "0006_evidence"
down_revision: str | Sequence[str] | None = "0004_analytics"
branch_labels: str | Sequence[str] | None = ("evidence",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_cases",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("case_number", sa.String(100), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(10000), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("case_type", sa.String(100), nullable=False),
        sa.Column("retention_category", sa.String(100), nullable=False),
        sa.Column("members", JSONType, nullable=False),
        sa.Column("linked_alert_ids", JSONType, nullable=False),
        sa.Column("linked_incident_ids", JSONType, nullable=False),
        sa.Column("hold_active", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(1000), nullable=False),
        sa.Column("hold_subject", sa.String(200), nullable=False),
        sa.Column("hold_org_id", sa.String(64), nullable=False),
        sa.Column("hold_time", UTCDateTime(), nullable=True),
        sa.Column("creator_subject", sa.String(200), nullable=False),
        sa.Column("creator_org_id", sa.String(64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("close_time", UTCDateTime(), nullable=True),
        sa.Column("delete_time", UTCDateTime(), nullable=True),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_cases"),
        sa.UniqueConstraint("organization_id", "case_number", name="uq_evidence_cases_number"),
    )
    op.create_index(
        "ix_evidence_cases_org_update", "evidence_cases", ["organization_id", "update_time"]
    )
    op.create_table(
        "evidence_custody_entries",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("action", sa.SmallInteger(), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "sequence", name="pk_evidence_custody_entries"),
    )
    op.create_index("ix_evidence_custody_item", "evidence_custody_entries", ["case_id", "item_id"])
    op.create_table(
        "evidence_custody_logs",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("compact", sa.LargeBinary(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_evidence_custody_logs"),
    )
    op.create_table(
        "evidence_export_jobs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("stream", sa.SmallInteger(), nullable=False),
        sa.Column("range_start", UTCDateTime(), nullable=False),
        sa.Column("range_end", UTCDateTime(), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("gaps", JSONType, nullable=False),
        sa.Column("error", sa.String(1000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_expire_time", UTCDateTime(), nullable=True),
        sa.Column("creator_subject", sa.String(200), nullable=False),
        sa.Column("creator_org_id", sa.String(64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=True),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_export_jobs"),
    )
    op.create_index(
        "ix_evidence_export_jobs_case", "evidence_export_jobs", ["case_id", "create_time"]
    )
    op.create_index(
        "ix_evidence_export_jobs_state", "evidence_export_jobs", ["state", "create_time"]
    )
    op.create_table(
        "evidence_items",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(10000), nullable=False),
        sa.Column("source", JSONType, nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("source_record", JSONType, nullable=True),
        sa.Column("export_job_id", sa.String(64), nullable=False),
        sa.Column("hold_active", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(1000), nullable=False),
        sa.Column("hold_subject", sa.String(200), nullable=False),
        sa.Column("hold_org_id", sa.String(64), nullable=False),
        sa.Column("hold_time", UTCDateTime(), nullable=True),
        sa.Column("retention_category", sa.String(100), nullable=False),
        sa.Column("retain_until", UTCDateTime(), nullable=True),
        sa.Column("creator_subject", sa.String(200), nullable=False),
        sa.Column("creator_org_id", sa.String(64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("delete_time", UTCDateTime(), nullable=True),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_items"),
    )
    op.create_index("ix_evidence_items_case", "evidence_items", ["case_id", "create_time"])
    op.create_index("ix_evidence_items_retain", "evidence_items", ["retain_until"])
    op.create_table(
        "evidence_packages",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("item_ids", JSONType, nullable=False),
        sa.Column("creator_subject", sa.String(200), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_packages"),
    )
    op.create_table(
        "evidence_requests",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("requester_organization_id", sa.String(64), nullable=False),
        sa.Column("partner_organization_id", sa.String(64), nullable=False),
        sa.Column("partner_contact_email", sa.String(320), nullable=False),
        sa.Column("clips", JSONType, nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("due_time", UTCDateTime(), nullable=True),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("decision", sa.SmallInteger(), nullable=False),
        sa.Column("approved_clips", JSONType, nullable=False),
        sa.Column("response_note", sa.String(2000), nullable=False),
        sa.Column("item_ids", JSONType, nullable=False),
        sa.Column("creator_subject", sa.String(200), nullable=False),
        sa.Column("creator_org_id", sa.String(64), nullable=False),
        sa.Column("responder_subject", sa.String(200), nullable=False),
        sa.Column("responder_org_id", sa.String(64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("respond_time", UTCDateTime(), nullable=True),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("link_expire_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_requests"),
    )
    op.create_index("ix_evidence_requests_case", "evidence_requests", ["case_id", "create_time"])
    op.create_index(
        "ix_evidence_requests_partner",
        "evidence_requests",
        ["partner_organization_id", "create_time"],
    )
    op.create_table(
        "evidence_share_links",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("item_ids", JSONType, nullable=False),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("recipient_email", sa.String(320), nullable=False),
        sa.Column("expire_time", UTCDateTime(), nullable=False),
        sa.Column("allow_download", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("access_count", sa.BigInteger(), nullable=False),
        sa.Column("last_access_time", UTCDateTime(), nullable=True),
        sa.Column("creator_subject", sa.String(200), nullable=False),
        sa.Column("creator_org_id", sa.String(64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("revoke_time", UTCDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_share_links"),
        sa.UniqueConstraint("token_hash", name="uq_evidence_share_links_token"),
    )
    op.create_index(
        "ix_evidence_share_links_case", "evidence_share_links", ["case_id", "create_time"]
    )


def downgrade() -> None:
    op.drop_table("evidence_share_links")
    op.drop_table("evidence_requests")
    op.drop_table("evidence_packages")
    op.drop_table("evidence_items")
    op.drop_table("evidence_export_jobs")
    op.drop_table("evidence_custody_logs")
    op.drop_table("evidence_custody_entries")
    op.drop_table("evidence_cases")
