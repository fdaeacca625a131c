"""Live streams follow the lease: two real ingest processes, and a client that asks the
one that does not record a camera still gets its live packets and frames."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from rtcc.backends.database import open_database
from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL
from rtcc.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras

_SERVE = "import sys; from rtcc.cli import main; sys.exit(main())"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _replica(folder: Path, env: dict[str, str], name: str, port: int) -> Any:
    data = folder / name
    data.mkdir(exist_ok=True)
    log = (folder / f"{name}.log").open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SERVE, "serve", "--target=ingest",
        env={**os.environ, **env, "RTCC_DATA_DIR": str(data),
             "RTCC_GRPC_LISTEN": f"127.0.0.1:{port}"},
        stdout=log, stderr=log,
    )  # fmt: skip


async def _organization(registry: Any, simulator: Any) -> tuple[str, list[str]]:
    admin = registry.token(PLATFORM_ORG, ["platform-admin"])
    async with open_channel(registry.address, lambda: admin) as channel:
        org = await registry_pb2_grpc.RegistryServiceStub(channel).CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=registry_pb2.Organization(
                    display_name="Metro PD", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                )
            )
        )
        ids = await register_cameras(
            channel, simulator.cameras[:2], organization_id=org.organization.id
        )
    return org.organization.id, ids


async def test_any_replica_serves_live_packets_and_frames_of_a_camera_recorded_by_another(
    platform_factory: Any, simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    secret = secrets.token_urlsafe(40)
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with platform_factory(
        targets=["registry"], database_url=db_url, auth={"jwt_secret": secret}
    ) as registry:
        org_id, ids = await _organization(registry, simulator)
        env = {
            "RTCC_DATABASE_URL": db_url,
            "RTCC_OBJECT_STORE_URL": f"file://{tmp_path / 'objects'}",
            "RTCC_PEERS__REGISTRY": registry.address,
            "RTCC_AUTH__JWT_SECRET": secret,
            "RTCC_HTTP_LISTEN": "127.0.0.1:0",
            "RTCC_METRICS_LISTEN": "127.0.0.1:0",
        }
        ports = {"a": _free_port(), "b": _free_port()}
        db = await open_database(db_url)
        leases = LeaseStore(db)
        # The second camera is leased to a replica that is gone but whose lease has not
        # expired: its address refuses connections.
        ghost_camera = ids[1]
        await leases.acquire(
            ghost_camera,
            INGEST_POOL,
            "ghost-0",
            dt.timedelta(seconds=60),
            f"127.0.0.1:{_free_port()}",
        )
        procs = {n: await _replica(tmp_path, env, n, p) for n, p in ports.items()}
        user = registry.token(org_id, ["operator"], subject="officer@metro")
        try:

            async def held() -> dict[str, str]:
                return {
                    lease.camera_id: lease.address
                    for lease in await leases.unexpired(INGEST_POOL)
                    if lease.camera_id == ids[0]
                }

            await wait_for(lambda: _truthy(held()), within_s=40, what="camera 0 recorded")
            holder_address = (await held())[ids[0]]
            assert holder_address in {f"127.0.0.1:{p}" for p in ports.values()}
            other = next(
                f"127.0.0.1:{p}" for p in ports.values() if f"127.0.0.1:{p}" != holder_address
            )

            async with open_channel(other, lambda: user) as channel:
                stub = ingest_pb2_grpc.IngestServiceStub(channel)

                async def live_from_the_other_replica() -> bool:
                    try:
                        return await _first_keyframe(stub, ids[0])
                    except grpc.aio.AioRpcError:
                        return False  # the holder may still be connecting to the camera

                await wait_for(live_from_the_other_replica, within_s=30, what="relayed packets")
                frames = stub.StreamFrames(
                    ingest_pb2.StreamFramesRequest(
                        camera_id=ids[0], fps=2, max_width=320,
                        pixel_format=ingest_pb2.PIXEL_FORMAT_JPEG,
                    ),
                    timeout=20,
                )  # fmt: skip
                async for reply in frames:
                    assert reply.frame.width == 320 and reply.frame.data[:2] == b"\xff\xd8"
                    break
                frames.cancel()

                started = time.monotonic()
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await _first_keyframe(stub, ghost_camera)
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "ghost-0" in (err.value.details() or "")
                assert time.monotonic() - started < 10, "a deadline, never a hang"
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.terminate()
            await asyncio.gather(*(p.wait() for p in procs.values()))
            await db.close()


async def _truthy(value: Any) -> bool:
    return bool(await value)


async def _first_keyframe(stub: Any, camera_id: str) -> bool:
    call = stub.StreamPackets(
        ingest_pb2.StreamPacketsRequest(camera_id=camera_id, start_from_last_keyframe=True),
        timeout=20,
    )
    tracks = False
    try:
        async for reply in call:
            if reply.HasField("tracks"):
                tracks = True
            elif reply.HasField("packet") and reply.packet.keyframe:
                return tracks
    finally:
        call.cancel()
    return False
