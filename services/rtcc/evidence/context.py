"""What the evidence service's parts share: stores, content, custody, clients, mail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Row

from rtcc.clients import Clients
from rtcc.core.auth import Principal
from rtcc.core.config import EvidenceSettings
from rtcc.core.errors import InvalidArgument
from rtcc.evidence import policy
from rtcc.evidence.content import Content, retain_until
from rtcc.evidence.custody_store import Actor, CustodyLog
from rtcc.evidence.jobs import JobStore
from rtcc.evidence.mail import Mailer
from rtcc.evidence.store import CaseStore


@dataclass
class EvidenceContext:
    settings: EvidenceSettings
    cases: CaseStore
    jobs: JobStore
    content: Content
    custody: CustodyLog
    key: Ed25519PrivateKey
    mailer: Mailer
    clients: Clients
    runtime_shared: dict[str, object]
    configured_url: str
    work_dir: Path
    wake_exports: object = None  # an asyncio.Event set when a job is queued

    @property
    def public_url(self) -> str:
        """Base URL of links mailed to people: `public_url`, else the bound HTTP port."""
        if self.configured_url:
            return self.configured_url.rstrip("/")
        port = self.runtime_shared.get("http_port")
        return f"http://127.0.0.1:{port}" if port else ""

    def actor(self, who: Principal) -> Actor:
        return Actor(who.subject, who.org_id)

    async def visible_case(self, who: Principal, case_id: str) -> Row[object]:
        if not case_id:
            raise InvalidArgument("case_id is required", field="case_id")
        row = await self.cases.get_case(case_id)
        policy.require_see(who, case_id, row.organization_id, row.creator_subject, row.members)
        return row

    async def visible_item(self, who: Principal, item_id: str) -> tuple[Row[object], Row[object]]:
        if not item_id:
            raise InvalidArgument("item_id is required", field="item_id")
        item = await self.cases.get_item(item_id)
        case = await self.visible_case(who, item.case_id)
        return case, item

    def category(self, requested: str, case_type: str) -> str:
        """The retention category of a new case: asked for, else its type's, else default."""
        known = self.settings.retention_days
        if requested:
            if requested not in known:
                raise InvalidArgument(
                    f"retention category {requested!r} is not one of {', '.join(sorted(known))}",
                    field="case.retention_category",
                )
            return requested
        if case_type.lower() in known:
            return case_type.lower()
        return self.settings.default_retention

    def retain_until(self, category: str, created: dt.datetime) -> dt.datetime | None:
        return retain_until(self.settings.retention_days.get(category), created)
