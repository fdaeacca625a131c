"""Backend fixtures shared by every test suite.

Real servers (PostgreSQL, MinIO, NATS) start once per session, on demand, through
`infra/servers.py`; if one cannot start the tests that need it fail (never skip).

`database`, `object_store` and `bus` are parametrised over both implementations of
their interface and scoped to the test module: tests in one module share one opened,
ready (migrated) backend, so they must use their own names (ids, buckets, subjects).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from rtcc.backends.bus import EventBus, open_bus
from rtcc.backends.database import Database, open_database
from rtcc.backends.objectstore import ObjectStore, open_object_store
from rtcc.backends.objectstore_file import FileObjectStore

ROOT = Path(__file__).resolve().parents[1]


def _load_servers() -> ModuleType:
    # infra/ is scripts, not a package: load the launcher by its path.
    spec = importlib.util.spec_from_file_location(
        "rtcc_infra_servers", ROOT / "infra" / "servers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


servers = _load_servers()

# Tests record 4 s segments (the product's default is 10 s, ingest.segment_seconds), so
# a recording to read exists seconds after start-up; processes they start inherit it.
# Tests of the setting itself set it explicitly.
os.environ.setdefault("RTCC_INGEST__SEGMENT_SECONDS", "4")


def _serve(name: str) -> Iterator[str]:
    server = servers.start(name)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """`postgresql://postgres@127.0.0.1:PORT/postgres` of a private cluster (trust auth)."""
    yield from _serve("postgres")


@pytest.fixture(scope="session")
def minio_url() -> Iterator[str]:
    """`s3://USER:PASSWORD@127.0.0.1:PORT?secure=false&region=us-east-1` of a MinIO."""
    yield from _serve("minio")


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """`nats://127.0.0.1:PORT` of a nats-server with JetStream."""
    yield from _serve("nats")


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[str]:
    """Issuer URL `http://127.0.0.1:PORT` of a real OpenID Connect provider (npm
    oidc-provider) with the users, clients and audience of infra/oidc/users.json."""
    yield from _serve("oidc")


class Mailpit(NamedTuple):
    """A running mailpit: send mail to smtp_host:smtp_port, read it at api_url."""

    smtp_host: str
    smtp_port: int
    # Base of the HTTP API: `GET {api_url}/api/v1/messages`, `DELETE` the same to empty it.
    api_url: str


@pytest.fixture(scope="session")
def mailpit() -> Iterator[Mailpit]:
    """A real SMTP server (mailpit) with an HTTP API to read what it received."""
    for url in _serve("mailpit"):
        address, _, api = url.removeprefix("smtp://").partition("?http=")
        host, _, port = address.rpartition(":")
        yield Mailpit(host, int(port), api)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def _postgres_admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest_asyncio.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """A migrated database: an SQLite file, or a fresh PostgreSQL database per module."""
    if request.param == "sqlite":
        db = await open_database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'rtcc.db'}")
        try:
            await db.migrate()
            yield db
        finally:
            await db.close()
        return
    admin_url: str = request.getfixturevalue("postgres_url")
    name = _unique("rtcc_")
    await _postgres_admin(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    db = await open_database(url)
    try:
        await db.migrate()
        yield db
    finally:
        await db.close()
        await _postgres_admin(admin_url, f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(
    scope="module", params=["file", pytest.param("minio", marks=pytest.mark.minio)]
)
async def object_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ObjectStore]:
    """An object store: a directory (file://) or a real MinIO (s3://)."""
    store: ObjectStore
    if request.param == "file":
        store = FileObjectStore(tmp_path_factory.mktemp("objects"))
    else:
        store = open_object_store(request.getfixturevalue("minio_url"))
    try:
        yield store
    finally:
        await store.close()


@pytest_asyncio.fixture(
    scope="module", params=["memory", pytest.param("nats", marks=pytest.mark.nats)]
)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    """An event bus: in-process (memory://) or NATS JetStream (nats://)."""
    url = "memory://" if request.param == "memory" else request.getfixturevalue("nats_url")
    opened = await open_bus(url)
    try:
        yield opened
    finally:
        await opened.close()
