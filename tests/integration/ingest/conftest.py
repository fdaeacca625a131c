"""Fixtures for ingest tests: the camera simulator and backend sets.

`backends` comes in two sets instead of every combination: embedded (SQLite, a
directory, the in-process bus) and real (PostgreSQL, MinIO, NATS JetStream), which
keeps recording tests (seconds of real video each) fast on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from tests.waiting import wait_for as shared_wait_for

from rtcc.backends.bus import EventBus, open_bus
from rtcc.backends.database import Database, open_database
from rtcc.backends.objectstore import ObjectStore, open_object_store
from rtcc.sim.simulator import Simulator

SCENE_SECONDS = 6.0


@pytest_asyncio.fixture(scope="session")
async def simulator(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Simulator]:
    """Three simulated cameras (two scene variants) on one real RTSP server."""
    cache = tmp_path_factory.mktemp("sim")
    async with Simulator(3, cache, scene_seconds=SCENE_SECONDS, variants=2) as sim:
        yield sim


@dataclass
class Backends:
    db: Database
    objects: ObjectStore
    bus: EventBus
    kind: str


async def _pg_database(admin_url: str) -> tuple[Database, Callable[[], Awaitable[None]]]:
    name = f"rtcc_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    db = await open_database(url)

    async def drop() -> None:
        await db.close()
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

    return db, drop


@pytest_asyncio.fixture(
    params=[
        "embedded",
        pytest.param("real", marks=[pytest.mark.postgres, pytest.mark.minio, pytest.mark.nats]),
    ]
)
async def backends(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backends]:
    """A migrated database, an object store and a bus, all embedded or all real."""
    if request.param == "embedded":
        db = await open_database(f"sqlite:///{tmp_path / 'rtcc.db'}")
        objects = open_object_store(f"file://{tmp_path / 'objects'}")
        bus = await open_bus("memory://")

        async def close_db() -> None:
            await db.close()

        cleanup = close_db
    else:
        db, cleanup = await _pg_database(request.getfixturevalue("postgres_url"))
        objects = open_object_store(request.getfixturevalue("minio_url"))
        bus = await open_bus(request.getfixturevalue("nats_url"))
    await db.migrate()
    try:
        yield Backends(db, objects, bus, request.param)
    finally:
        await bus.close()
        await objects.close()
        await cleanup()


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[None]]:
    """`await wait_for(lambda: ..., within_s=..., what=...)`: no sleeps as synchronisation."""
    return shared_wait_for


class TcpProxy:
    """A TCP forwarder on a fixed local port that a test can take down and bring back,
    to make a real server (MinIO, PostgreSQL) unreachable without touching it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(1 << 16):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()
                self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest_asyncio.fixture
async def minio_proxy(minio_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """(proxy, s3 URL through the proxy) for the session's MinIO."""
    parts = urlsplit(minio_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 9000)
    await proxy.up()
    yield proxy, minio_url.replace(f":{parts.port}", f":{proxy.port}", 1)
    await proxy.down()
