"""Drills against the real backends: MinIO down, PostgreSQL restarted, NATS restarted,
while a real `rtcc serve --target=registry,ingest` process records two cameras.

Each backend is reached through a TCP proxy that the drill takes down: for the
recorder, an outage and a restart look the same (every connection dropped, new ones
refused until the server is back). After each fault the drill waits for recovery and
counts, per camera, segments expected over the fault's window, indexed, stored and
published on the bus, and the holes in the index: there must be none (zero loss; the
spool holds what could not be stored).

The MinIO outage lasts RTCC_DRILL_OUTAGE_S seconds (default 20, not the issue's 60):
20 s already spans five segment closes and the uploader's retry backoff reaching its
10 s ceiling, so a longer outage only repeats capped retries while CI waits; set 60
to run the issue's figure. PostgreSQL and NATS are down for 8 s (under the 10 s lease).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from tests.waiting import wait_for

from rtcc.backends.bus import EventBus, open_bus
from rtcc.backends.database import Database, open_database
from rtcc.backends.objectstore import ObjectStore, open_object_store
from rtcc.ingest.segment import BUCKET, MAIN, find_gaps
from rtcc.ingest.store import SegmentIndex

from .conftest import Deployment, SegmentAudit, ServerProcess, TcpProxy

OUTAGE_S = float(os.environ.get("RTCC_DRILL_OUTAGE_S", "20"))
RESTART_S = 8.0
SEGMENT_S = 4.0
pytestmark = [pytest.mark.postgres, pytest.mark.minio, pytest.mark.nats]


@dataclass
class Stack:
    server: ServerProcess
    cameras: list[str]
    db: Database
    objects: ObjectStore
    bus: EventBus
    proxies: dict[str, TcpProxy]
    published: set[str] = field(default_factory=set)

    async def audit(self, camera_id: str, start: dt.datetime, end: dt.datetime) -> SegmentAudit:
        segments = await SegmentIndex(self.db).overlapping(camera_id, MAIN, start, end)
        keys = {s.object_key for s in segments}
        stored = 0
        async for info in self.objects.list(BUCKET, prefix=f"{camera_id}/"):
            stored += info.key in keys
        holes = find_gaps(
            [(s.start_time, s.end_time) for s in segments], start, end,
            tolerance=dt.timedelta(milliseconds=300),
        )  # fmt: skip
        return SegmentAudit(
            camera_id,
            expected=round((end - start).total_seconds() / SEGMENT_S),
            indexed=len(segments),
            stored=stored,
            published=len({s.id for s in segments} & self.published),
            holes=[
                (round((h.start_time - start).total_seconds(), 2),
                 round((h.end_time - h.start_time).total_seconds(), 2))
                for h in holes
            ],
        )  # fmt: skip

    async def recovered(self, start: dt.datetime, end: dt.datetime) -> list[SegmentAudit]:
        """Wait until every camera's window is indexed, stored and published, no holes."""
        audits: list[SegmentAudit] = []

        async def complete() -> bool:
            nonlocal audits
            audits = [await self.audit(c, start, end) for c in self.cameras]
            return all(not a.holes and a.indexed == a.stored == a.published > 0 for a in audits)

        try:
            await wait_for(complete, within_s=90, what="the window stored without loss")
        except AssertionError:
            raise AssertionError("; ".join(a.row() for a in audits)) from None
        return audits


async def _fresh_database(admin_url: str) -> str:
    name = f"rtcc_drill_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return str(make_url(admin_url).set(database=name).render_as_string(hide_password=False))


def _through(url: str, proxy: TcpProxy) -> str:
    port = urlsplit(url.replace("postgresql://", "http://").replace("s3://", "http://")).port
    return url.replace(f":{port}", f":{proxy.port}", 1)


async def _follow(bus: EventBus, into: set[str], since: dt.datetime) -> None:
    subscription = await bus.subscribe(
        "rtcc.segment.created", durable=f"drill-{uuid.uuid4().hex[:8]}", queue=False,
        deliver_from=since,
    )  # fmt: skip
    async for message in subscription:
        into.add(json.loads(message.data)["segment_id"])
        await message.ack()


@pytest_asyncio.fixture(scope="module")
async def stack(
    postgres_url: str, minio_url: str, nats_url: str, drill_cameras: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:  # fmt: skip
    db_url = await _fresh_database(postgres_url)
    targets = {"postgres": db_url, "minio": minio_url, "nats": nats_url}
    proxies = {}
    for name, url in targets.items():
        parts = urlsplit(url.replace("postgresql://", "http://").replace("s3://", "http://"))
        proxies[name] = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 0)
        await proxies[name].up()
    deployment = Deployment(Path(tmp_path_factory.mktemp("backend-drills")))
    server = deployment.server(
        "real-node", "registry,ingest",
        RTCC_DATABASE_URL=_through(db_url, proxies["postgres"]),
        RTCC_OBJECT_STORE_URL=_through(minio_url, proxies["minio"]),
        RTCC_BUS_URL=_through(nats_url, proxies["nats"]),
    )  # fmt: skip
    db = await open_database(db_url)
    objects = open_object_store(minio_url)
    bus = await open_bus(nats_url)
    follower = None
    try:
        await server.start()
        await server.wait_serving()
        _, cameras = await deployment.register(server.address, drill_cameras)
        stack = Stack(server, cameras, db, objects, bus, proxies)
        follower = asyncio.create_task(
            _follow(bus, stack.published, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        index = SegmentIndex(db)

        async def recording() -> bool:
            since, far = (
                dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
            )
            found = [await index.overlapping(c, MAIN, since, far) for c in cameras]
            return all(found)

        await wait_for(recording, within_s=60, what="both cameras recorded")
        yield stack
    finally:
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        await deployment.stop()
        for proxy in proxies.values():
            await proxy.down()
        await bus.close()
        await objects.close()
        await db.close()


async def _outage(stack: Stack, backend: str, seconds: float) -> tuple[dt.datetime, dt.datetime]:
    """Take `backend` away for `seconds` (the fault itself, not a synchronisation)."""
    start = dt.datetime.now(dt.UTC)
    await stack.proxies[backend].down()
    await asyncio.sleep(seconds)
    assert await stack.server.serving(), f"ingest stays SERVING while {backend} is away"
    await stack.proxies[backend].up()
    return start, dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("backend", "seconds"),
    [("minio", OUTAGE_S), ("postgres", RESTART_S), ("nats", RESTART_S)],
    ids=["minio-down", "postgres-restarted", "nats-restarted"],
)
async def test_a_backend_outage_loses_no_segment(
    stack: Stack, backend: str, seconds: float
) -> None:
    start, end = await _outage(stack, backend, seconds)
    # The window from a segment before the fault to the end of the one after it.
    window = (start - dt.timedelta(seconds=SEGMENT_S), end + dt.timedelta(seconds=SEGMENT_S))
    audits = await stack.recovered(*window)
    for audit in audits:
        assert audit.indexed >= audit.expected - 1, audit.row()
    print(f"\n{backend} away {seconds:.0f} s: " + "; ".join(a.row() for a in audits))
