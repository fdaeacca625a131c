"""Fault drills: real `rtcc serve` processes, real servers, real faults.

Each drill starts OpenRTCC as separate processes (``python -m``-style, as `rtcc serve`
runs in a pod), records simulated cameras, injects one fault (SIGKILL, a server
stopped, a network path cut), and counts segments expected, stored and indexed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tests.waiting import wait_for as shared_wait_for

from rtcc.core.auth import PLATFORM_ORG, TokenAuthority
from rtcc.core.clients import open_channel
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras
from rtcc.sim.simulator import Simulator

_SERVE = "import sys; from rtcc.cli import main; sys.exit(main())"
# The simulator's keyframe interval: GOP 30 at 15 fps.
KEYFRAME_S = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[None]]:
    return shared_wait_for


@dataclass
class ServerProcess:
    """One `rtcc serve --target=...` process; restartable on the same data and port."""

    name: str
    target: str
    data_dir: Path
    env: dict[str, str]
    grpc_port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    log_path: Path = Path()
    # A command the server runs under (e.g. `unshare -m` with a small filesystem).
    prefix: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.name}.log"
        env = {
            **os.environ,
            **self.env,
            "RTCC_DATA_DIR": str(self.data_dir),
            "RTCC_GRPC_LISTEN": self.address,
            "RTCC_HTTP_LISTEN": self.env.get("RTCC_HTTP_LISTEN", "127.0.0.1:0"),
            "RTCC_METRICS_LISTEN": "127.0.0.1:0",
            "RTCC_LOG_FORMAT": "json",
            "RTCC_DRAIN_GRACE_S": "1",
        }
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.prefix, sys.executable, "-c", _SERVE, "serve", f"--target={self.target}",
                env=env, stdout=log, stderr=log,
            )  # fmt: skip

    async def serving(self) -> bool:
        if self.process is None or self.process.returncode is not None:
            tail = self.log_path.read_text(errors="replace")[-1500:]
            raise AssertionError(f"{self.name} exited: {tail}")
        try:
            async with open_channel(self.address) as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1.0
                )
        except Exception:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def wait_serving(self, within_s: float = 60.0) -> None:
        await shared_wait_for(self.serving, within_s=within_s, what=f"{self.name} SERVING")

    async def kill(self) -> None:
        """SIGKILL: no drain, no release, no last upload."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass
class Deployment:
    """A set of processes sharing one secret, database, object store and bus."""

    root: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(40))
    env: dict[str, str] = field(default_factory=dict)
    servers: list[ServerProcess] = field(default_factory=list)

    def admin_token(self) -> str:
        return TokenAuthority(self.secret).mint(
            subject="drill@test", org_id=PLATFORM_ORG, roles=["platform-admin"]
        )

    def token(self, org_id: str, roles: list[str]) -> str:
        return TokenAuthority(self.secret).mint(subject="officer@test", org_id=org_id, roles=roles)

    def server(self, name: str, target: str, **env: str) -> ServerProcess:
        merged = {"RTCC_AUTH__JWT_SECRET": self.secret, **self.env, **env}
        server = ServerProcess(name, target, self.root / name, merged)
        self.servers.append(server)
        return server

    async def register(self, registry_address: str, simulator: Simulator) -> tuple[str, list[str]]:
        """An agency and one registry camera per simulated camera: (org id, camera ids)."""
        admin = self.admin_token()
        async with open_channel(registry_address, lambda: admin) as channel:
            org = await registry_pb2_grpc.RegistryServiceStub(channel).CreateOrganization(
                registry_pb2.CreateOrganizationRequest(
                    organization=registry_pb2.Organization(
                        display_name="Drill PD", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                    )
                )
            )
            ids = await register_cameras(
                channel, simulator.cameras, organization_id=org.organization.id
            )
        return org.organization.id, ids

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.servers))


class TcpProxy:
    """A TCP forwarder on a fixed local port that a drill takes down and brings back:
    a backend outage (or restart) as its clients see it: every connection dropped, new
    ones refused, until it is back."""

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


@dataclass
class SegmentAudit:
    """Segments of one camera over a window: expected (the window's length over the
    segment length), indexed (rows), stored (objects), published (bus messages), and
    the holes in the index (time not covered by any segment)."""

    camera_id: str
    expected: int
    indexed: int
    stored: int
    published: int
    holes: list[tuple[float, float]]  # (offset from the window start s, length s)

    def row(self) -> str:
        return (
            f"{self.camera_id}: expected ~{self.expected}, indexed {self.indexed}, "
            f"stored {self.stored}, published {self.published}, holes {self.holes}"
        )


@pytest_asyncio.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    deployed = Deployment(tmp_path)
    try:
        yield deployed
    finally:
        await deployed.stop()


@pytest_asyncio.fixture(scope="session")
async def drill_cameras(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Simulator]:
    """Two simulated cameras on one real RTSP server, shared by the drills."""
    async with Simulator(2, tmp_path_factory.mktemp("drill-sim"), scene_seconds=6.0) as sim:
        yield sim
