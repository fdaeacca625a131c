"""Start real OpenRTCC servers (real gRPC on port 0) over the backend fixtures."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from rtcc.core.clients import open_channel
from rtcc.core.config import Settings
from rtcc.core.server import Platform, start_platform


@dataclass
class RunningPlatform:
    """A started server and the means to call it as any principal."""

    platform: Platform
    address: str

    def token(self, org_id: str, roles: list[str], subject: str = "user@test") -> str:
        return self.platform.token(subject=subject, org_id=org_id, roles=roles)

    def channel(self, token: str | None) -> grpc.aio.Channel:
        return open_channel(self.address, (lambda: token) if token else None)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "grpc_listen": "127.0.0.1:0",
        "http_listen": "127.0.0.1:0",
        "metrics_listen": "127.0.0.1:0",
        "data_dir": data_dir,
        "auth": {"jwt_secret": secrets.token_urlsafe(40)},
        "drain_grace_s": 0.5,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def platform_factory(
    tmp_path: Path,
) -> Callable[..., Any]:
    """`async with platform_factory(targets=[...], database_url=..., ...) as p:`."""

    @asynccontextmanager
    async def factory(
        targets: list[str] | None = None, database: Any = None, **overrides: Any
    ) -> AsyncIterator[RunningPlatform]:
        if database is not None:
            # Share the (migrated) database of a backend fixture.
            url = database.engine.url.set(drivername=database.dialect)
            overrides["database_url"] = url.render_as_string(hide_password=False)
        settings = make_settings(tmp_path / secrets.token_hex(4), **overrides)
        platform = await start_platform(settings, targets or ["registry"])
        try:
            yield RunningPlatform(platform, platform.grpc_address)
        finally:
            await platform.stop(grace=0.5)

    return factory
