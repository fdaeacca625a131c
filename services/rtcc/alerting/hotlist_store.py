"""Hot lists, their entries and hits in the platform database.

An import replaces a list's entries in one transaction (delete + insert + version
bump): readers see the old list or the new one, never half of it. Each process
keeps a :class:`~rtcc.alerting.hotlist.HotlistIndex` per list, rebuilt when the
stored version moves (``HotlistCache``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from rtcc.alerting import hotlist as hl
from rtcc.alerting.records import HitRecord, HotlistRecord
from rtcc.alerting.tables import hotlist_entries, hotlist_hits, hotlists
from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.backends.database import Database
from rtcc.core.errors import FailedPrecondition, NotFound

_L, _E, _X = hotlists.c, hotlist_entries.c, hotlist_hits.c
_LIST_FIELDS = [f.name for f in dataclasses.fields(HotlistRecord)]
_HIT_FIELDS = [f.name for f in dataclasses.fields(HitRecord)]
UNVERIFIED, CONFIRMED, REJECTED = 1, 2, 3
_BATCH = 5000


def _list(row: Any) -> HotlistRecord:
    return HotlistRecord(**{n: getattr(row, n) for n in _LIST_FIELDS})


def _hit(row: Any) -> HitRecord:
    return HitRecord(**{n: getattr(row, n) for n in _HIT_FIELDS})


def entry_json(entry: hl.Entry) -> dict[str, Any]:
    return {
        "plate": entry.plate,
        "plate_state": entry.plate_state,
        "category": entry.category,
        "effective_time": entry.effective.isoformat() if entry.effective else None,
        "expire_time": entry.expires.isoformat() if entry.expires else None,
        "line": entry.line,
    }


class HotlistStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, record: HotlistRecord, subject: str) -> HotlistRecord:
        async with self.db.transaction() as conn:
            await conn.execute(hotlists.insert().values(**dataclasses.asdict(record)))
            await append_audit(
                conn,
                AuditEntry(
                    subject,
                    record.organization_id,
                    "hotlist.create",
                    "hotlist",
                    record.id,
                    None,
                    {"display_name": record.display_name},
                ),
            )
        return record

    async def get(self, hotlist_id: str, org_id: str | None) -> HotlistRecord:
        query = sa.select(hotlists).where(_L.id == hotlist_id)
        if org_id is not None:
            query = query.where(_L.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"hot list {hotlist_id!r} does not exist or is not yours")
        return _list(row)

    async def all(self, org_id: str | None = None) -> list[HotlistRecord]:
        query = sa.select(hotlists).order_by(_L.display_name, _L.id)
        if org_id is not None:
            query = query.where(_L.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            return [_list(r) for r in (await conn.execute(query)).all()]

    async def replace_entries(
        self,
        hotlist_id: str,
        entries: Sequence[hl.Entry],
        subject: str,
        org_id: str,
        now: dt.datetime,
    ) -> HotlistRecord:
        """All entries replaced in one transaction; the version moves by one."""
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(sa.select(hotlists).where(_L.id == hotlist_id).with_for_update())
            ).first()
            if row is None:
                raise NotFound(f"hot list {hotlist_id!r} does not exist")
            await conn.execute(hotlist_entries.delete().where(_E.hotlist_id == hotlist_id))
            rows = [
                {
                    "hotlist_id": hotlist_id,
                    "line": e.line,
                    "plate": e.plate,
                    "plate_state": e.plate_state,
                    "category": e.category,
                    "effective_time": e.effective,
                    "expire_time": e.expires,
                }
                for e in entries
            ]
            for start in range(0, len(rows), _BATCH):
                await conn.execute(hotlist_entries.insert(), rows[start : start + _BATCH])
            await conn.execute(
                hotlists.update()
                .where(_L.id == hotlist_id)
                .values(
                    entry_count=len(rows),
                    import_time=now,
                    last_error="",
                    version=row.version + 1,
                )
            )
            await append_audit(
                conn,
                AuditEntry(
                    subject,
                    org_id,
                    "hotlist.import",
                    "hotlist",
                    hotlist_id,
                    {"entries": row.entry_count},
                    {"entries": len(rows)},
                    None,
                    now,
                ),
            )
        return await self.get(hotlist_id, None)

    async def set_error(self, hotlist_id: str, error: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                hotlists.update().where(_L.id == hotlist_id).values(last_error=error[:1000])
            )

    async def set_stale_alert(self, hotlist_id: str, alert_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                hotlists.update().where(_L.id == hotlist_id).values(stale_alert_id=alert_id)
            )

    async def entries(self, hotlist_id: str) -> list[hl.Entry]:
        query = sa.select(hotlist_entries).where(_E.hotlist_id == hotlist_id)
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [
            hl.Entry(r.plate, r.plate_state, r.category, r.effective_time, r.expire_time, r.line)
            for r in rows
        ]

    async def versions(self) -> dict[str, int]:
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(sa.select(_L.id, _L.version))).all()
        return {r.id: int(r.version) for r in rows}

    # -- hits -------------------------------------------------------------------------
    async def add_hit(self, hit: HitRecord) -> bool:
        """False when this read already hit this list (a redelivered event)."""
        try:
            async with self.db.transaction() as conn:
                await conn.execute(hotlist_hits.insert().values(**dataclasses.asdict(hit)))
        except Exception as exc:  # the unique (list, read) constraint: already recorded
            from rtcc.core.errors import AlreadyExists

            if isinstance(exc, AlreadyExists):
                return False
            raise
        return True

    async def set_hit_alert(self, hit_id: str, alert_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                hotlist_hits.update().where(_X.id == hit_id).values(alert_id=alert_id)
            )

    async def hits(
        self,
        org_id: str,
        states: Sequence[int] = (),
        limit: int = 100,
        alert_id: str = "",
        ids: Sequence[str] = (),
    ) -> list[HitRecord]:
        query = sa.select(hotlist_hits).where(_X.organization_id == org_id)
        if states:
            query = query.where(_X.state.in_(list(states)))
        if alert_id:
            query = query.where(_X.alert_id == alert_id)
        if ids:
            query = query.where(_X.id.in_(list(ids)))
        query = query.order_by(_X.read_time.desc(), _X.id.desc()).limit(limit)
        async with self.db.transaction(readonly=True) as conn:
            return [_hit(r) for r in (await conn.execute(query)).all()]

    async def verify(
        self,
        hit_id: str,
        org_id: str,
        subject: str,
        confirmed: bool,
        note: str,
        now: dt.datetime,
    ) -> HitRecord:
        async with self.db.transaction() as conn:
            query = (
                sa.select(hotlist_hits)
                .where(_X.id == hit_id, _X.organization_id == org_id)
                .with_for_update()
            )
            row = (await conn.execute(query)).first()
            if row is None:
                raise NotFound(f"hot list hit {hit_id!r} does not exist or is not yours")
            if row.state != UNVERIFIED:
                raise FailedPrecondition(f"hot list hit {hit_id} was already verified")
            state = CONFIRMED if confirmed else REJECTED
            values = {
                "state": state,
                "verifier_subject": subject,
                "verifier_org": org_id,
                "verify_time": now,
                "verify_note": note,
            }
            await conn.execute(hotlist_hits.update().where(_X.id == hit_id).values(**values))
            await append_audit(
                conn,
                AuditEntry(
                    subject,
                    org_id,
                    "hotlist_hit.verify",
                    "hotlist_hit",
                    hit_id,
                    {"state": UNVERIFIED},
                    {"state": state, "note": note},
                    None,
                    now,
                ),
            )
        return dataclasses.replace(_hit(row), **values)  # type: ignore[arg-type]


class HotlistCache:
    """Per-process indexes of every list, rebuilt when a list's stored version moves."""

    def __init__(self, store: HotlistStore) -> None:
        self.store = store
        self._indexes: dict[str, tuple[int, HotlistRecord, hl.HotlistIndex]] = {}

    async def refresh(self) -> None:
        versions = await self.store.versions()
        for gone in set(self._indexes) - set(versions):
            del self._indexes[gone]
        for list_id, version in versions.items():
            cached = self._indexes.get(list_id)
            if cached is None or cached[0] != version:
                record = await self.store.get(list_id, None)
                entries = await self.store.entries(list_id)
                index = hl.HotlistIndex(entries, record.max_substitutions)
                self._indexes[list_id] = (version, record, index)

    def match(
        self, plate: str, when: dt.datetime, region: str = ""
    ) -> list[tuple[HotlistRecord, hl.Match]]:
        """Matches in every list; the caller keeps those whose organisation may see the
        camera that read the plate."""
        found = []
        for _, record, index in self._indexes.values():
            found += [(record, m) for m in index.match(plate, when, region)]
        return found
