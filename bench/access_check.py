"""The cost of an access decision: cache hit, cold (one registry round trip), per frame.

One process runs the registry (SQLite, in a temporary directory) on a real gRPC port;
an organisation owns a camera and shares it with an agency. An ``AccessDecisions``
cache (``rtcc.clients.access``) over the typed registry client then answers for one of
the agency's operators:

* hit: ``decide`` with the answer cached (what every call and re-check pays);
* cold: ``decide`` after the cache was dropped, i.e. one ``CheckCameraAccess`` call;
* per frame: a stream of 200,000 items through ``streams.rechecked`` (re-check every
  2 s, as long-lived streams do) against the same stream iterated bare.

    .venv/bin/python bench/access_check.py [--hits N] [--colds N] [--frames N]

Goal (issue 9): a cache hit under 50 µs; cold, one registry round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from rtcc.clients import AccessDecisions, RegistryClient, What, access_check, rechecked
from rtcc.core.auth import PLATFORM_ORG, Principal
from rtcc.core.config import Settings
from rtcc.core.server import start_platform
from rtcc.registry.v1 import registry_pb2 as pb
from rtcc.registry.v1 import registry_pb2_grpc as pbg


async def _world(platform: object) -> tuple[str, str]:
    from rtcc.core.clients import open_channel

    runtime = platform.runtime  # type: ignore[attr-defined]
    admin = runtime.authority.mint(subject="root", org_id=PLATFORM_ORG, roles=["platform-admin"])
    channel = open_channel(platform.grpc_address, lambda: admin)  # type: ignore[attr-defined]
    stub = pbg.RegistryServiceStub(channel)
    orgs = []
    for name in ("shop", "pd"):
        reply = await stub.CreateOrganization(
            pb.CreateOrganizationRequest(
                organization=pb.Organization(display_name=name, kind=pb.ORGANIZATION_KIND_AGENCY)
            )
        )
        orgs.append(reply.organization.id)
    camera = await stub.CreateCamera(
        pb.CreateCameraRequest(
            camera=pb.Camera(
                organization_id=orgs[0],
                display_name="door",
                location={"latitude": 42.3, "longitude": -83.0},
            )
        )
    )
    grant = pb.SharingGrant(
        grantor_organization_id=orgs[0], grantee_organization_id=orgs[1], all_cameras=True,
        live=True, recorded=True,
    )  # fmt: skip
    await stub.CreateSharingGrant(pb.CreateSharingGrantRequest(grant=grant))
    await channel.close()
    return orgs[1], camera.camera.id


async def _items(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


async def run(hits: int, colds: int, frames: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rtcc-bench-access-") as folder:
        settings = Settings(
            grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", metrics_listen="127.0.0.1:0",
            data_dir=Path(folder), auth={"jwt_secret": "b" * 40}, drain_grace_s=0.2,
        )  # fmt: skip
        platform = await start_platform(settings, ["registry"], with_metrics=False)
        try:
            org, camera = await _world(platform)
            runtime = platform.runtime
            registry = RegistryClient(lambda: runtime.channel("registry", as_service="bench"))
            cache = AccessDecisions(registry, ttl_s=3600)
            who = Principal("op@pd", org, frozenset({"operator"}))

            cold: list[float] = []
            for _ in range(colds):
                cache.invalidate()
                t0 = time.perf_counter()
                decision = await cache.decide(who, camera, What.LIVE_VIDEO)
                cold.append(time.perf_counter() - t0)
                assert decision.allowed

            t0 = time.perf_counter()
            for _ in range(hits):
                await cache.decide(who, camera, What.LIVE_VIDEO)
            hit_us = (time.perf_counter() - t0) / hits * 1e6

            t0 = time.perf_counter()
            async for _ in _items(frames):
                pass
            bare = time.perf_counter() - t0
            check = access_check(cache, who, [camera], What.LIVE_VIDEO)
            t0 = time.perf_counter()
            async for _ in rechecked(_items(frames), check, 2.0):
                pass
            guarded = time.perf_counter() - t0
        finally:
            await platform.stop(grace=0.2)
    per_frame_us = (guarded - bare) / frames * 1e6
    cold_ms = sorted(cold)
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| cache hit, `decide` ({hits:,} calls) | {hit_us:.2f} µs | < 50 µs |")
    print(
        f"| cold, one CheckCameraAccess round trip ({colds} calls) | "
        f"p50 {statistics.median(cold_ms) * 1e3:.2f} ms, "
        f"p95 {cold_ms[int(len(cold_ms) * 0.95) - 1] * 1e3:.2f} ms | one round trip |"
    )
    print(
        f"| re-checked stream, added cost per item ({frames:,} items, re-check every 2 s) | "
        f"{per_frame_us:.2f} µs | - |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=200_000)
    parser.add_argument("--colds", type=int, default=300)
    parser.add_argument("--frames", type=int, default=200_000)
    args = parser.parse_args()
    asyncio.run(run(args.hits, args.colds, args.frames))


if __name__ == "__main__":
    main()
