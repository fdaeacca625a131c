"""Value types of alerting's records, as the stores read and write them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AlertRecord:
    id: str
    organization_id: str
    kind: str
    title: str
    severity: int
    state: int
    latitude: float | None
    longitude: float | None
    first_trigger_time: dt.datetime
    last_trigger_time: dt.datetime
    rule_id: str = ""
    source: str = ""
    source_event_id: str = ""
    source_revision: int = 0
    merge_key: str = ""
    trigger_count: int = 1
    # [{"kind": "external_event"|"event"|"plate_read"|"alert", "id", "time", "camera_id"}]
    triggers: list[dict[str, Any]] = field(default_factory=list)
    # [{"subject", "org", "text", "time", "state"}]
    notes: list[dict[str, Any]] = field(default_factory=list)
    assignee: str = ""
    assigned_unit: str = ""
    outcome: int = 0
    dismiss_reason: str = ""
    escalation_level: int = 0
    merged_into: str = ""
    correlation: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    create_time: dt.datetime | None = None
    acknowledge_time: dt.datetime | None = None
    resolve_time: dt.datetime | None = None
    update_time: dt.datetime | None = None
    etag: str = ""
    sequence: int = 0

    def add_note(
        self, subject: str, org: str, text: str, when: dt.datetime, state: int = 0
    ) -> None:
        self.notes.append(
            {"subject": subject, "org": org, "text": text, "time": when.isoformat(), "state": state}
        )

    def add_trigger(self, kind: str, ref: str, when: dt.datetime, camera_id: str = "") -> bool:
        """Count one more trigger; False (nothing changed) when it is one already here.

        A source message delivered again (a replica stopped after raising the alert but
        before acknowledging the message) must not count twice.
        """
        if ref and any(t.get("kind") == kind and t.get("id") == ref for t in self.triggers):
            return False
        self.trigger_count += 1
        if len(self.triggers) < 100:
            self.triggers.append(
                {"kind": kind, "id": ref, "time": when.isoformat(), "camera_id": camera_id}
            )
        self.first_trigger_time = min(self.first_trigger_time, when)
        self.last_trigger_time = max(self.last_trigger_time, when)
        return True

    def summary(self) -> dict[str, Any]:
        """A JSON-able snapshot for the audit log."""
        return {
            "state": self.state,
            "severity": self.severity,
            "assignee": self.assignee,
            "unit": self.assigned_unit,
            "outcome": self.outcome,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "title": self.title,
        }


@dataclass(frozen=True)
class ExternalEventRecord:
    id: str
    organization_id: str
    source: str
    source_event_id: str
    kind: str
    type: int
    revision: int
    status: str
    latitude: float | None
    longitude: float | None
    accuracy_m: float
    address: str
    summary: str
    severity: int
    event_time: dt.datetime
    receive_time: dt.datetime
    details: dict[str, Any]
    raw_sha256: str
    raw_content_type: str
    alert_id: str
    idempotency_key: str = ""


@dataclass(frozen=True)
class HoldRecord:
    id: str
    organization_id: str
    camera_id: str
    start_time: dt.datetime
    end_time: dt.datetime
    holder_type: str
    holder_id: str
    reason: str
    creator: str
    create_time: dt.datetime
    release_time: dt.datetime | None = None
    released_by: str = ""
    released_by_org: str = ""
    release_reason: str = ""


@dataclass(frozen=True)
class HotlistRecord:
    id: str
    organization_id: str
    display_name: str
    source_url: str
    delimiter: str
    refresh_s: int
    max_age_s: int
    severity: int
    max_substitutions: int
    entry_count: int
    import_time: dt.datetime | None
    last_error: str
    stale_alert_id: str
    version: int
    create_time: dt.datetime


@dataclass(frozen=True)
class HitRecord:
    id: str
    organization_id: str
    hotlist_id: str
    plate_read_id: str
    read_plate: str
    camera_id: str
    read_time: dt.datetime
    latitude: float | None
    longitude: float | None
    entry: dict[str, Any]
    match_type: int
    substitutions: int
    state: int
    verifier_subject: str = ""
    verifier_org: str = ""
    verify_time: dt.datetime | None = None
    verify_note: str = ""
    alert_id: str = ""
