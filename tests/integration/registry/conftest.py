"""A registry server over each database, and clients for any principal.

One server per test module and database (`database` is module-scoped): tests share it,
so each creates its own organisations (unique ids) and never assumes an empty registry.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from rtcc.backends.database import Database
from rtcc.core.auth import PLATFORM_ORG, TokenAuthority
from rtcc.core.config import Settings
from rtcc.core.runtime import Runtime
from rtcc.core.server import start_platform
from rtcc.registry.v1 import registry_pb2 as pb
from rtcc.registry.v1 import registry_pb2_grpc as pbg

Stub = pbg.RegistryServiceStub


class _Bearer:
    """Adds the token to each call. One class per call kind: grpc.aio files an
    interceptor under the first kind it matches, so one class for all four kinds would
    authenticate unary calls only."""

    def __init__(self, token: str) -> None:
        self._token = token

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add("authorization", f"Bearer {self._token}")
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _BearerUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _BearerStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


def bearer_channel(address: str, token: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        address, interceptors=[_BearerUnary(token), _BearerStream(token)]
    )


@dataclass
class Registry:
    """A running registry target and stubs for the callers tests need."""

    address: str
    authority: TokenAuthority
    runtime: Runtime
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    def token(self, org_id: str, *roles: str, subject: str = "user@test") -> str:
        return self.authority.mint(subject=subject, org_id=org_id, roles=list(roles))

    def stub(self, org_id: str, *roles: str, subject: str = "user@test") -> Stub:
        return self.stub_for_token(self.token(org_id, *roles, subject=subject))

    def stub_for_token(self, token: str) -> Stub:
        if token not in self._channels:
            self._channels[token] = bearer_channel(self.address, token)
        return Stub(self._channels[token])

    def service(self, name: str) -> Stub:
        return self.stub(PLATFORM_ORG, "service", subject=f"service:{name}")

    @property
    def admin(self) -> Stub:
        return self.stub(PLATFORM_ORG, "platform-admin", subject="root@city")

    async def org(
        self, kind: int = pb.ORGANIZATION_KIND_PARTNER_BUSINESS, name: str = "Org"
    ) -> str:
        org_id = f"org_{secrets.token_hex(6)}"
        await self.admin.CreateOrganization(
            pb.CreateOrganizationRequest(
                organization=pb.Organization(display_name=name, kind=kind),  # type: ignore[arg-type]
                organization_id=org_id,
            )
        )
        return org_id

    async def camera(
        self, org_id: str, lat: float = 42.3314, lon: float = -83.0458, **kw: Any
    ) -> pb.Camera:
        camera = make_camera(org_id, lat, lon, **kw)
        reply = await self.stub(org_id, "partner-admin").CreateCamera(
            pb.CreateCameraRequest(camera=camera)
        )
        return reply.camera

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


def make_camera(org_id: str, lat: float = 42.3314, lon: float = -83.0458, **kw: Any) -> pb.Camera:
    """A valid camera; keyword arguments override top-level fields."""
    camera = pb.Camera(
        organization_id=org_id,
        display_name=kw.pop("display_name", "Gas station pump 3"),
        location={"latitude": lat, "longitude": lon},
        field_of_view=kw.pop(
            "field_of_view", {"heading_degrees": 90, "angle_degrees": 60, "range_meters": 50}
        ),
        **kw,
    )
    return camera


def settings_for(database: Database, data_dir: Path) -> Settings:
    url = database.engine.url.set(drivername=database.dialect)
    return Settings(
        grpc_listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        metrics_listen="127.0.0.1:0",
        data_dir=data_dir,
        database_url=url.render_as_string(hide_password=False),
        auth={"jwt_secret": secrets.token_urlsafe(40)},
        drain_grace_s=0.2,
    )


@asynccontextmanager
async def serve_registry(database: Database, data_dir: Path) -> AsyncIterator[Registry]:
    """The registry target on a real port, over the given (already migrated) database,
    with its own connection pool as a separate replica would have."""
    settings = settings_for(database, data_dir)
    platform = await start_platform(settings, ["registry"], with_http=False, with_metrics=False)
    running = Registry(platform.grpc_address, platform.runtime.authority, platform.runtime)
    try:
        yield running
    finally:
        await running.close()
        await platform.stop(grace=0.2)


@pytest_asyncio.fixture(scope="module")
async def registry(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Registry]:
    async with serve_registry(database, tmp_path_factory.mktemp("registry")) as running:
        yield running


def status_of(error: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> tuple[grpc.StatusCode, str]:
    return error.value.code(), error.value.details() or ""


FieldOf = Callable[[grpc.aio.AioRpcError], str]


def field_of(error: grpc.aio.AioRpcError) -> str:
    """The field named by the google.rpc.BadRequest detail of an INVALID_ARGUMENT."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return bad.field_violations[0].field
    return ""
