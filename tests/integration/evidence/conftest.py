"""Fixtures for evidence tests: a platform (registry + ingest + evidence) on embedded
or real backends (PostgreSQL and MinIO with object lock), callers by role, and the
camera simulator for recorded clips."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from tests.waiting import wait_for

from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.evidence.v1 import evidence_pb2_grpc
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.simulator import Simulator


class Stub:
    """A service's calls as one principal (metadata on every call, streams included)."""

    def __init__(self, stub: Any, token: str) -> None:
        self.stub = stub
        self.token = token
        self.metadata = (("authorization", f"Bearer {token}"),)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.stub, name)
        return lambda request, **kw: method(request, metadata=self.metadata, **kw)


@dataclass
class Evidence:
    platform: Any
    channel: grpc.aio.Channel
    org_id: str
    partner_org_id: str
    http: str
    kind: str

    def as_(self, subject: str, roles: list[str], org_id: str | None = None) -> Stub:
        token = self.platform.token(org_id or self.org_id, roles, subject=subject)
        return Stub(evidence_pb2_grpc.EvidenceServiceStub(self.channel), token)

    def registry(self) -> Any:
        admin = self.platform.token(PLATFORM_ORG, ["platform-admin"])
        return Stub(registry_pb2_grpc.RegistryServiceStub(self.channel), admin)


async def _org(registry: Any, name: str, kind: int) -> str:
    answer = await registry.CreateOrganization(
        registry_pb2.CreateOrganizationRequest(
            organization=registry_pb2.Organization(display_name=name, kind=kind)
        )
    )
    return str(answer.organization.id)


@pytest_asyncio.fixture(scope="session")
async def simulator(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Simulator]:
    """Three simulated cameras on one real RTSP server."""
    async with Simulator(3, tmp_path_factory.mktemp("sim"), scene_seconds=6.0, variants=2) as sim:
        yield sim


async def _pg(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"rtcc_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(
    params=["embedded", pytest.param("real", marks=[pytest.mark.postgres, pytest.mark.minio])]
)
def backend_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "embedded":
        return {"kind": "embedded"}
    return {
        "kind": "real",
        "postgres": request.getfixturevalue("postgres_url"),
        "minio": request.getfixturevalue("minio_url"),
    }


@pytest.fixture
def evidence_factory(platform_factory: Any, backend_settings: dict[str, Any]) -> Callable[..., Any]:
    """`async with evidence_factory(**settings) as ev:` a started platform."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Evidence]:
        drop = None
        if backend_settings["kind"] == "real":
            url, drop = await _pg(backend_settings["postgres"])
            overrides.setdefault("database_url", url)
            overrides.setdefault("object_store_url", backend_settings["minio"])
        targets = overrides.pop("targets", ["registry", "ingest", "evidence"])
        try:
            async with platform_factory(targets=targets, **overrides) as p:
                admin = p.token(PLATFORM_ORG, ["platform-admin"])
                channel = open_channel(p.address, lambda: admin)
                registry = Stub(registry_pb2_grpc.RegistryServiceStub(channel), admin)
                org = await _org(registry, "Metro PD", registry_pb2.ORGANIZATION_KIND_AGENCY)
                partner = await _org(
                    registry, "Corner Store", registry_pb2.ORGANIZATION_KIND_PARTNER_BUSINESS
                )
                http = f"http://127.0.0.1:{p.platform.http.port}"
                try:
                    yield Evidence(p, channel, org, partner, http, backend_settings["kind"])
                finally:
                    await channel.close()
        finally:
            if drop is not None:
                await drop()

    return start


@pytest_asyncio.fixture
async def ev(evidence_factory: Callable[..., Any]) -> AsyncIterator[Evidence]:
    async with evidence_factory() as started:
        yield started


wait_until = wait_for


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
