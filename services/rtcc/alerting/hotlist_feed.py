"""Scheduled hot list imports from a file, a URL or a bucket of the object store.

Every ``refresh_interval`` a list with a ``source_url`` is fetched (``file:///…``,
``http(s)://…``, ``bucket://BUCKET/KEY``) and imported like an upload: every row is
checked first, and a file with any bad row changes nothing (the list keeps its
entries and ``last_error`` says what was wrong). A good import clears the list's
freshness alarm (the ``hotlist_stale`` alert raised when ``max_age`` passes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from rtcc.alerting import hotlist as hl
from rtcc.alerting import lifecycle
from rtcc.alerting.engine import AlertEngine
from rtcc.alerting.hotlist_store import HotlistStore
from rtcc.alerting.records import AlertRecord, HotlistRecord
from rtcc.alerting.store import SYSTEM
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.errors import InvalidArgument, NotFound, RtccError, Unavailable

MAX_BYTES = 64 * 1024 * 1024


async def fetch(url: str, objects: ObjectStore) -> bytes:
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(parts.path)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise Unavailable(f"cannot read {path}: {exc.strerror}") from None
    if parts.scheme == "bucket":
        return await objects.get(parts.netloc, parts.path.lstrip("/"))
    if parts.scheme in ("http", "https"):
        timeout = aiohttp.ClientTimeout(total=60)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(url) as resp:
                    if resp.status != 200:
                        raise Unavailable(f"{url} answered HTTP {resp.status}")
                    data = await resp.content.read(MAX_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"cannot fetch {url}: {exc}") from None
        if len(data) > MAX_BYTES:
            raise InvalidArgument(f"{url} is larger than {MAX_BYTES} bytes")
        return data
    raise InvalidArgument(f"unsupported hot list source {url!r}")


class HotlistFeed:
    def __init__(self, store: HotlistStore, engine: AlertEngine, objects: ObjectStore) -> None:
        self.store, self.engine, self.objects = store, engine, objects
        self._tried: dict[str, dt.datetime] = {}

    def due(self, record: HotlistRecord, now: dt.datetime) -> bool:
        if not record.source_url or not record.refresh_s:
            return False
        last = max(
            [t for t in (record.import_time, self._tried.get(record.id)) if t is not None],
            default=None,
        )
        return last is None or now - last >= dt.timedelta(seconds=record.refresh_s)

    async def run_due(self, now: dt.datetime) -> list[str]:
        """Import every due list; the ids imported."""
        done = []
        for record in await self.store.all():
            if not self.due(record, now):
                continue
            self._tried[record.id] = now
            try:
                await self.import_from_source(record, now)
                done.append(record.id)
            except RtccError as exc:
                await self.store.set_error(record.id, f"{record.source_url}: {exc.message}")
        return done

    async def import_from_source(self, record: HotlistRecord, now: dt.datetime) -> HotlistRecord:
        data = await fetch(record.source_url, self.objects)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidArgument("the file is not UTF-8 text") from None
        entries, errors = hl.parse(text, record.delimiter or ";")
        if errors:
            first = "; ".join(f"line {e.line}: {e.message}" for e in errors[:3])
            raise InvalidArgument(f"{len(errors)} bad rows, nothing imported ({first})")
        stored = await self.store.replace_entries(
            record.id, entries, "service:alerting", record.organization_id, now
        )
        if record.stale_alert_id:
            await self._close_stale(record)
        return stored

    async def _close_stale(self, record: HotlistRecord) -> None:
        now = self.engine.clock()

        def mutate(a: AlertRecord) -> str | None:
            if a.state in lifecycle.CLOSED:
                return None
            a.state, a.outcome, a.resolve_time = lifecycle.RESOLVED, lifecycle.NO_ACTION, now
            a.add_note("", "", f"hot list {record.display_name} imported again", now, a.state)
            return "alert.resolve"

        try:
            await self.engine.update(record.stale_alert_id, record.organization_id, mutate, SYSTEM)
        except NotFound:
            pass
        await self.store.set_stale_alert(record.id, "")
