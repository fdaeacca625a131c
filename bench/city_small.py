"""A small city on one machine: N simulated cameras, 3 ingest + 2 playback processes,
one registry, a shared SQLite database and file object store (the chart's topology,
embedded backends). Prints per-process CPU and memory over a window, per-camera
figures, stored bytes per camera, and live first-frame times through each playback
replica (most viewers reach a replica that does not own the camera's ingest lease).

    .venv/bin/python bench/city_small.py --cameras 20 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtcc.backends.database import open_database
from rtcc.core.auth import PLATFORM_ORG, TokenAuthority
from rtcc.core.clients import open_channel
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL
from rtcc.ingest.segment import MAIN
from rtcc.ingest.store import SegmentIndex
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras
from rtcc.sim.simulator import Simulator

SERVE = "import sys; from rtcc.cli import main; sys.exit(main())"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def serve(root: Path, name: str, target: str, env: dict[str, str]) -> tuple[object, str]:
    port = free_port()
    data = root / name
    data.mkdir()
    log = (root / f"{name}.log").open("ab")
    full = {
        **os.environ,
        **env,
        "RTCC_DATA_DIR": str(data),
        "RTCC_LOG_LEVEL": "warning",
        "RTCC_GRPC_LISTEN": f"127.0.0.1:{port}",
        "RTCC_METRICS_LISTEN": "127.0.0.1:0",
    }
    full.setdefault("RTCC_HTTP_LISTEN", "127.0.0.1:0")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE, "serve", f"--target={target}", env=full,
        stdout=log, stderr=log,
    )  # fmt: skip
    return proc, f"127.0.0.1:{port}"


async def wait_serving(address: str, within_s: float = 90) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            async with open_channel(address) as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except Exception:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{address} did not serve within {within_s} s")


async def first_frame(base: str, camera_id: str, token: str) -> float:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    tracks: asyncio.Queue[object] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    await pc.setLocalDescription(await pc.createOffer())
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    try:
        async with aiohttp.ClientSession() as http:
            url = f"{base}/whep/cameras/{camera_id}"
            async with http.post(url, data=pc.localDescription.sdp, headers=headers) as r:
                if r.status != 201:
                    raise RuntimeError(f"{r.status}: {await r.text()}")
                answer = await r.text()
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            track = await asyncio.wait_for(tracks.get(), 10)
            await asyncio.wait_for(track.recv(), 15)  # type: ignore[attr-defined]
            return (time.monotonic() - started) * 1000
    finally:
        await pc.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--viewers", type=int, default=6)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rtcc-city-"))
    secret = secrets.token_urlsafe(40)
    shared = {"RTCC_DATABASE_URL": f"sqlite:///{root / 'shared.db'}",
              "RTCC_OBJECT_STORE_URL": f"file://{root / 'objects'}",
              "RTCC_AUTH__JWT_SECRET": secret}  # fmt: skip
    procs: dict[str, tuple[object, str]] = {}
    async with Simulator(args.cameras, Path("var/sim"), scene_seconds=10.0) as sim:
        try:
            procs["registry"] = await serve(root, "registry", "registry", shared)
            await wait_serving(procs["registry"][1])
            authority = TokenAuthority(secret)
            admin = authority.mint(subject="bench", org_id=PLATFORM_ORG, roles=["platform-admin"])
            async with open_channel(procs["registry"][1], lambda: admin) as channel:
                org = await registry_pb2_grpc.RegistryServiceStub(channel).CreateOrganization(
                    registry_pb2.CreateOrganizationRequest(
                        organization=registry_pb2.Organization(
                            display_name="City", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                        )
                    )
                )
                ids = await register_cameras(
                    channel, sim.cameras, organization_id=org.organization.id
                )
            peers = {**shared, "RTCC_PEERS__REGISTRY": procs["registry"][1]}
            for n in range(3):
                procs[f"ingest-{n}"] = await serve(root, f"ingest-{n}", "ingest", peers)
            for n in range(3):
                await wait_serving(procs[f"ingest-{n}"][1])
            http_ports = [free_port(), free_port()]
            for n, port in enumerate(http_ports):
                env = {**peers, "RTCC_PEERS__INGEST": procs[f"ingest-{n}"][1],
                       "RTCC_HTTP_LISTEN": f"127.0.0.1:{port}"}  # fmt: skip
                procs[f"playback-{n}"] = await serve(root, f"playback-{n}", "playback", env)
            for n in range(2):
                await wait_serving(procs[f"playback-{n}"][1])
            db = await open_database(shared["RTCC_DATABASE_URL"])
            leases, index = LeaseStore(db), SegmentIndex(db)
            deadline = time.monotonic() + 120
            while len(await leases.unexpired(INGEST_POOL)) < len(ids):
                if time.monotonic() > deadline:
                    raise RuntimeError("not every camera leased within 120 s")
                await asyncio.sleep(1)
            await asyncio.sleep(10)  # let sessions settle before measuring (a warm-up)
            pids = {name: p.pid for name, (p, _) in procs.items()}  # type: ignore[attr-defined]
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            window_start = dt.datetime.now(dt.UTC)
            await asyncio.sleep(args.seconds)  # the measurement window
            after = {name: cpu_seconds(pid) for name, pid in pids.items()}
            window_end = dt.datetime.now(dt.UTC)
            rss = {name: rss_mib(pid) for name, pid in pids.items()}
            held = {}
            for lease in await leases.unexpired(INGEST_POOL):
                held[lease.replica_id] = held.get(lease.replica_id, 0) + 1
            stored = 0
            for camera_id in ids:
                for seg in await index.overlapping(camera_id, MAIN, window_start, window_end):
                    stored += seg.size_bytes
            token = authority.mint(subject="viewer", org_id=org.organization.id, roles=["operator"])
            times = []
            for i in range(args.viewers):
                base = f"http://127.0.0.1:{http_ports[i % 2]}"
                times.append(await first_frame(base, ids[i % len(ids)], token))
            await db.close()
        finally:
            for proc, _ in procs.values():
                if proc.returncode is None:  # type: ignore[attr-defined]
                    proc.terminate()  # type: ignore[attr-defined]
            await asyncio.gather(*(p.wait() for p, _ in procs.values()))  # type: ignore[attr-defined]
    window = args.seconds
    print(f"{args.cameras} cameras, 3 ingest + 2 playback + registry, {window:.0f} s window")
    print(f"{'process':<12}{'CPU %':>8}{'RSS MiB':>10}")
    for name in procs:
        print(f"{name:<12}{(after[name] - before[name]) / window * 100:>8.1f}{rss[name]:>10.0f}")
    ingest_cpu = sum(after[n] - before[n] for n in procs if n.startswith("ingest"))
    ingest_rss = sum(rss[n] for n in procs if n.startswith("ingest"))
    print(f"leases per ingest replica: {sorted(held.values())}")
    print(f"ingest CPU per camera: {ingest_cpu / window / args.cameras * 100:.2f} % of a core")
    print(f"ingest RSS per camera (incl. 3 process bases): {ingest_rss / args.cameras:.1f} MiB")
    mbps = stored * 8 / window / args.cameras / 1e6
    per_day = stored / args.cameras / window * 86400 / 2**30
    print(f"stored per camera: {mbps:.2f} Mbit/s ({per_day:.1f} GiB/day)")
    print(
        f"live first frame through a playback replica (n={len(times)}): "
        f"p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
