"""Several real ingest processes share the registry's cameras; one is killed (-9)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from rtcc.backends.database import open_database
from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL
from rtcc.ingest.segment import MAIN
from rtcc.ingest.store import SegmentIndex
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
_SERVE = "import sys; from rtcc.cli import main; sys.exit(main())"


async def _replica(folder: Path, env: dict[str, str], name: str) -> asyncio.subprocess.Process:
    data = folder / name
    data.mkdir(exist_ok=True)
    log = (folder / f"{name}.log").open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SERVE, "serve", "--target=ingest",
        env={**os.environ, **env, "RTCC_DATA_DIR": str(data)},
        stdout=log, stderr=log,
    )  # fmt: skip


async def _register(registry: Any, simulator: Any) -> set[str]:
    admin = registry.token(PLATFORM_ORG, ["platform-admin"])
    async with open_channel(registry.address, lambda: admin) as channel:
        org = await registry_pb2_grpc.RegistryServiceStub(channel).CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=registry_pb2.Organization(
                    display_name="Transit PD", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                )
            )
        )
        ids = await register_cameras(
            channel, simulator.cameras, organization_id=org.organization.id
        )
    return set(ids)


async def test_killed_replicas_cameras_move_within_15_s_and_a_restart_rebalances(
    platform_factory: Any, simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    secret = secrets.token_urlsafe(40)
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with platform_factory(
        targets=["registry"], database_url=db_url, auth={"jwt_secret": secret}
    ) as registry:
        ids = await _register(registry, simulator)
        env = {
            "RTCC_DATABASE_URL": db_url,
            "RTCC_OBJECT_STORE_URL": f"file://{tmp_path / 'objects'}",
            "RTCC_PEERS__REGISTRY": registry.address,
            "RTCC_AUTH__JWT_SECRET": secret,
            "RTCC_GRPC_LISTEN": "127.0.0.1:0",
            "RTCC_HTTP_LISTEN": "127.0.0.1:0",
            "RTCC_METRICS_LISTEN": "127.0.0.1:0",
        }
        db = await open_database(db_url)
        leases = LeaseStore(db)

        async def holders() -> dict[str, set[str]]:
            out: dict[str, set[str]] = {}
            for lease in await leases.unexpired(INGEST_POOL):
                if lease.camera_id in ids:
                    out.setdefault(lease.replica_id, set()).add(lease.camera_id)
            return out

        async def spread_over(count: int) -> bool:
            held = await holders()
            return len(held) == count and set().union(*held.values()) == ids

        procs = {n: await _replica(tmp_path, env, n) for n in ("a", "b")}
        try:
            await wait_for(lambda: spread_over(2), within_s=40, what="3 cameras over 2 replicas")
            index = SegmentIndex(db)

            async def recorded() -> bool:
                counts = [len(await index.overlapping(c, MAIN, EPOCH, FAR)) for c in ids]
                return min(counts) >= 2

            await wait_for(recorded, within_s=40, what="2 segments of every camera")
            # Kill -9 a replica's process: no release, no last upload.
            victim = next(n for n in procs if procs[n].returncode is None)
            procs[victim].send_signal(signal.SIGKILL)
            await procs[victim].wait()
            killed = asyncio.get_running_loop().time()
            await wait_for(lambda: spread_over(1), within_s=20, what="the survivor holding all")
            assert asyncio.get_running_loop().time() - killed <= 15.0
            procs[victim] = await _replica(tmp_path, env, victim)  # restart: same spool
            await wait_for(lambda: spread_over(2), within_s=30, what="a rebalance onto 2")
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.terminate()
            await asyncio.gather(*(p.wait() for p in procs.values()))
        for camera_id in ids:
            segments = await SegmentIndex(db).overlapping(camera_id, MAIN, EPOCH, FAR)
            assert len({s.id for s in segments}) == len(segments)
            for a, b in itertools.pairwise(segments):
                assert b.start_time >= a.end_time, "no two replicas recorded the same time"
        await db.close()
