"""The evidence service's tables (SQLAlchemy Core) on the platform's shared metadata.

Created by the Alembic revision ``0006_evidence``; this module must match it. Custody
tables have no foreign keys to cases on purpose: a deleted case keeps its log.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rtcc.backends.database import JSONType, UTCDateTime, metadata

_ID = 64


def _id(name: str, *, primary: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(_ID), primary_key=primary, nullable=False)


def _text(name: str, size: int = 1000) -> sa.Column[str]:
    return sa.Column(name, sa.String(size), nullable=False)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def _hold() -> list[sa.Column[Any]]:
    return [
        sa.Column("hold_active", sa.Boolean(), nullable=False),
        _text("hold_reason"),
        _text("hold_subject", 200),
        _text("hold_org_id", _ID),
        _time("hold_time", nullable=True),
    ]


cases = sa.Table(
    "evidence_cases",
    metadata,
    _id("id", primary=True),
    _id("organization_id"),
    sa.Column("case_number", sa.String(100), nullable=True),
    _text("title", 200),
    _text("description", 10000),
    sa.Column("state", sa.SmallInteger(), nullable=False),
    _text("case_type", 100),
    _text("retention_category", 100),
    sa.Column("members", JSONType, nullable=False),
    sa.Column("linked_alert_ids", JSONType, nullable=False),
    sa.Column("linked_incident_ids", JSONType, nullable=False),
    *_hold(),
    _text("creator_subject", 200),
    _text("creator_org_id", _ID),
    _time("create_time"),
    _time("update_time"),
    _time("close_time", nullable=True),
    _time("delete_time", nullable=True),
    _text("etag", _ID),
    sa.UniqueConstraint("organization_id", "case_number", name="uq_evidence_cases_number"),
    sa.Index("ix_evidence_cases_org_update", "organization_id", "update_time"),
)

items = sa.Table(
    "evidence_items",
    metadata,
    _id("id", primary=True),
    _id("case_id"),
    sa.Column("kind", sa.SmallInteger(), nullable=False),
    _text("display_name", 200),
    _text("description", 10000),
    sa.Column("source", JSONType, nullable=False),
    sa.Column("state", sa.SmallInteger(), nullable=False),
    _text("content_type", 200),
    sa.Column("size_bytes", sa.BigInteger(), nullable=False),
    _text("sha256", 64),
    _text("object_key", 1024),
    sa.Column("source_record", JSONType, nullable=True),
    _text("export_job_id", _ID),
    *_hold(),
    _text("retention_category", 100),
    _time("retain_until", nullable=True),
    _text("creator_subject", 200),
    _text("creator_org_id", _ID),
    _time("create_time"),
    _time("update_time"),
    _time("delete_time", nullable=True),
    _text("etag", _ID),
    sa.Index("ix_evidence_items_case", "case_id", "create_time"),
    sa.Index("ix_evidence_items_retain", "retain_until"),
)

# One row per case: the Merkle frontier (compact range) and head of its custody log, so
# an append costs O(log n) hashes and one row lock, never a rescan of the log.
custody_logs = sa.Table(
    "evidence_custody_logs",
    metadata,
    _id("case_id", primary=True),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("compact", sa.LargeBinary(), nullable=False),
    _text("head_hash", 64),
    _time("update_time"),
)

custody_entries = sa.Table(
    "evidence_custody_entries",
    metadata,
    _id("case_id", primary=True),
    sa.Column("sequence", sa.BigInteger(), primary_key=True),
    _id("id"),
    _text("item_id", _ID),
    sa.Column("action", sa.SmallInteger(), nullable=False),
    # The exact bytes hashed (canonical JSON); entry_hash = SHA-256(canonical).
    sa.Column("canonical", sa.LargeBinary(), nullable=False),
    _text("entry_hash", 64),
    sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
    sa.Index("ix_evidence_custody_item", "case_id", "item_id"),
)

export_jobs = sa.Table(
    "evidence_export_jobs",
    metadata,
    _id("id", primary=True),
    _id("case_id"),
    _id("item_id"),
    _id("camera_id"),
    sa.Column("stream", sa.SmallInteger(), nullable=False),
    _time("range_start"),
    _time("range_end"),
    sa.Column("state", sa.SmallInteger(), nullable=False),
    sa.Column("progress", sa.Double(), nullable=False),
    sa.Column("bytes_written", sa.BigInteger(), nullable=False),
    sa.Column("gaps", JSONType, nullable=False),
    _text("error"),
    sa.Column("attempts", sa.Integer(), nullable=False),
    # A running job's worker renews this; a job whose lease ran out (its worker died,
    # the process restarted) is taken up again by any replica.
    _time("lease_expire_time", nullable=True),
    _text("creator_subject", 200),
    _text("creator_org_id", _ID),
    _time("create_time"),
    _time("start_time", nullable=True),
    _time("end_time", nullable=True),
    sa.Index("ix_evidence_export_jobs_state", "state", "create_time"),
    sa.Index("ix_evidence_export_jobs_case", "case_id", "create_time"),
)

share_links = sa.Table(
    "evidence_share_links",
    metadata,
    _id("id", primary=True),
    _id("case_id"),
    sa.Column("item_ids", JSONType, nullable=False),
    _text("recipient", 500),
    _text("recipient_email", 320),
    _time("expire_time"),
    sa.Column("allow_download", sa.Boolean(), nullable=False),
    # scrypt$salt$hash of the passcode; empty: none.
    _text("password_hash", 300),
    # SHA-256 of the URL's secret token: the token itself is never stored.
    _text("token_hash", 64),
    sa.Column("revoked", sa.Boolean(), nullable=False),
    sa.Column("access_count", sa.BigInteger(), nullable=False),
    _time("last_access_time", nullable=True),
    _text("creator_subject", 200),
    _text("creator_org_id", _ID),
    _time("create_time"),
    _time("revoke_time", nullable=True),
    _text("revoke_reason"),
    sa.UniqueConstraint("token_hash", name="uq_evidence_share_links_token"),
    sa.Index("ix_evidence_share_links_case", "case_id", "create_time"),
)

evidence_requests = sa.Table(
    "evidence_requests",
    metadata,
    _id("id", primary=True),
    _id("case_id"),
    _id("requester_organization_id"),
    _text("partner_organization_id", _ID),
    _text("partner_contact_email", 320),
    sa.Column("clips", JSONType, nullable=False),
    _text("reason", 2000),
    _time("due_time", nullable=True),
    sa.Column("state", sa.SmallInteger(), nullable=False),
    sa.Column("decision", sa.SmallInteger(), nullable=False),
    sa.Column("approved_clips", JSONType, nullable=False),
    _text("response_note", 2000),
    sa.Column("item_ids", JSONType, nullable=False),
    _text("creator_subject", 200),
    _text("creator_org_id", _ID),
    _text("responder_subject", 200),
    _text("responder_org_id", _ID),
    _time("create_time"),
    _time("respond_time", nullable=True),
    _text("etag", _ID),
    _text("token_hash", 64),
    _time("link_expire_time"),
    sa.Index("ix_evidence_requests_case", "case_id", "create_time"),
    sa.Index("ix_evidence_requests_partner", "partner_organization_id", "create_time"),
)

packages = sa.Table(
    "evidence_packages",
    metadata,
    _id("id", primary=True),
    _id("case_id"),
    _text("object_key", 1024),
    sa.Column("size_bytes", sa.BigInteger(), nullable=False),
    _text("sha256", 64),
    sa.Column("item_ids", JSONType, nullable=False),
    _text("creator_subject", 200),
    _time("create_time"),
)
