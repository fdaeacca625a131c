"""The audit log's plumbing, on SQLite and on PostgreSQL: every entry carries the request
id of the call being served, the caller, the organisation and the outcome."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from rtcc.backends.audit import AuditEntry, append_audit, audit_log, record_audit
from rtcc.backends.database import Database
from rtcc.core.calls import request_id_from, reset_request_id, set_request_id


async def _row(database: Database, entry_id: int) -> sa.Row[tuple[object, ...]]:
    async with database.transaction(readonly=True) as conn:
        result = await conn.execute(sa.select(audit_log).where(audit_log.c.id == entry_id))
        return result.one()


def _entry(**fields: object) -> AuditEntry:
    values: dict[str, object] = {
        "actor_subject": "ana",
        "actor_org_id": "org_metro",
        "action": "video.live",
        "resource_type": "camera",
        "resource_id": f"cam_{uuid.uuid4().hex[:8]}",
        **fields,
    }
    return AuditEntry(**values)  # type: ignore[arg-type]


async def test_entry_takes_the_request_id_of_the_call_being_served(database: Database) -> None:
    token = set_request_id("req-contract-1")
    try:
        async with database.transaction() as conn:
            entry_id = await append_audit(conn, _entry())
    finally:
        reset_request_id(token)
    row = await _row(database, entry_id)
    assert (row.request_id, row.outcome, row.reason) == ("req-contract-1", "ok", None)
    assert (row.actor_subject, row.actor_org_id) == ("ana", "org_metro")


async def test_denied_attempt_is_recorded_with_its_reason(database: Database) -> None:
    async with database.transaction() as conn:
        entry_id = await append_audit(
            conn,
            _entry(outcome="denied", reason="no grant covers this hour", request_id="req-given"),
        )
    row = await _row(database, entry_id)
    assert (row.outcome, row.reason, row.request_id) == (
        "denied",
        "no grant covers this hour",
        "req-given",
    )


async def test_denial_is_recorded_although_the_calls_own_write_rolled_back(
    database: Database,
) -> None:
    class Refused(Exception):
        pass

    attempted = _entry()
    with pytest.raises(Refused):
        async with database.transaction() as conn:
            await append_audit(conn, attempted)  # the call's own write: rolled back
            raise Refused
    entry_id = await record_audit(database, _entry(outcome="denied", reason="outside window"))
    assert (await _row(database, entry_id)).reason == "outside window"
    async with database.transaction(readonly=True) as conn:
        rolled_back = await conn.execute(
            sa.select(audit_log.c.id).where(audit_log.c.resource_id == attempted.resource_id)
        )
        assert rolled_back.first() is None


async def test_unknown_outcome_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="outcome"):
        async with database.transaction() as conn:
            await append_audit(conn, _entry(outcome="maybe"))


async def test_entries_without_the_new_fields_default_to_ok(database: Database) -> None:
    # Writers that insert rows directly (the registry's change log) get outcome "ok".
    async with database.transaction() as conn:
        result = await conn.execute(
            audit_log.insert()
            .values(
                time=sa.func.now(),
                actor_subject="svc",
                actor_org_id="org_platform",
                action="camera.update",
                resource_type="camera",
                resource_id="cam_x",
            )
            .returning(audit_log.c.id)
        )
        entry_id = int(result.scalar_one())
    assert (await _row(database, entry_id)).outcome == "ok"


def test_client_request_ids_are_taken_only_when_they_look_like_ids() -> None:
    assert request_id_from("req-ana_1.2:3") == "req-ana_1.2:3"
    for bad in ("", "x" * 65, "two words", "a\nb", None, 42):
        generated = request_id_from(bad)
        assert generated != bad and len(generated) == 32
