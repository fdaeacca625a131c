"""The one path by which services audit reads of protected data and every refusal.

Reads of recorded video and analytics results, and every denied attempt, become a row of
the shared ``audit_log`` (``backends.audit``): who (subject, organisation), action,
resource, and in ``after`` the outcome (``allowed`` / ``denied``) with the reason and
any detail (a time range, an event id). The request id is filled in by the audit
backend from the call being served.
"""

from __future__ import annotations

from typing import Any

import structlog

from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.backends.database import Database
from rtcc.core.auth import Principal

log = structlog.get_logger("rtcc.clients.audit")


class AccessAudit:
    """Writes access outcomes to the audit log of this process's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        principal: Principal,
        action: str,
        resource_type: str,
        resource_id: str,
        outcome: str,
        reason: str = "",
        **detail: Any,
    ) -> None:
        """One access outcome. A failure to write is logged, never hides the answer."""
        after: dict[str, Any] = {"outcome": outcome, **detail}
        if reason:
            after["reason"] = reason
        entry = AuditEntry(
            actor_subject=principal.subject,
            actor_org_id=principal.org_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id[:128],
            after=after,
        )
        try:
            async with self._db.transaction() as conn:
                await append_audit(conn, entry)
        except Exception:  # the caller's answer (a refusal, mostly) must still go out
            log.exception("audit_write_failed", action=action, resource_id=resource_id)
