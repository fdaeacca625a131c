"""A city on one machine: the chart's production topology as real processes.

Renders helm/rtcc with `helm template` and the production values
(helm/rtcc/ci/production-values.yaml), pointed at the PostgreSQL, MinIO and NATS that
infra/servers.py starts here (`--set externalDatabase.host=127.0.0.1,...`: the only
values changed). Each Deployment/StatefulSet of a target becomes that many
`rtcc serve --target=X` processes (replicas, or the HPA's minReplicas) with the
environment the chart gives the pod: the ConfigMap, env values with $(VAR) expanded,
secretKeyRefs from local credentials, fieldRefs for the pod name and IP. What a pod
network gives for free and one machine cannot is re-mapped, and printed: listen ports,
the data directory, advertised addresses, and each Service name (`rtcc-ingest:50051`)
to one replica of that target, round-robin (a gRPC channel to a ClusterIP lands on one
pod). Any other value still naming the cluster stops the run.

Then N simulated cameras (one shared pipeline per rendered scene, 640x360 at 1 Mbit/s
by default), registered through the registry; analytics on a share of them; after a
warm-up, one window of per-process CPU (/proc), RSS, TCP bytes per process by peer (`ss`:
cameras in, object store out), stored segment bytes per camera, analytics frames/s and
events; then live first frames (WHEP, aiortc) through every playback replica; then the
capacity model's figures for the same city beside the measured ones.

    nice -n 5 .venv/bin/python bench/city.py --cameras 100 --seconds 60
    ... --set config.env.RTCC_INGEST__MAX_CAMERAS=40   # any chart value, as helm --set
    .venv/bin/python bench/city.py --cameras 10 --seconds 20      # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import grpc
import sqlalchemy as sa
import yaml
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtcc.analytics.tables import detector_status, events
from rtcc.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from rtcc.backends.database import open_database
from rtcc.capacity.cli import render as render_plan
from rtcc.capacity.model import Demand, parse_bitrate, plan
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG, TokenAuthority
from rtcc.core.clients import open_channel
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import ANALYTICS_POOL, INGEST_POOL
from rtcc.ingest.segment import MAIN
from rtcc.ingest.store import SegmentIndex
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras
from rtcc.sim.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "rtcc"
PRODUCTION = CHART / "ci" / "production-values.yaml"
SERVE = "import sys; from rtcc.cli import main; sys.exit(main())"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# Start order: the registry first (it migrates the schema, and cameras are registered
# through it), then everything else at once.
ORDER = ("registry", "ingest", "analytics", "playback", "alerting", "evidence")


def _load_servers() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rtcc_infra_servers", ROOT / "infra" / "servers.py"
    )
    assert spec is not None and spec.loader is not None
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the chart -----------------------------------------------------------------------


@dataclass
class Workload:
    """One target as the chart renders it."""

    target: str
    kind: str
    name: str
    replicas: int
    env: list[dict[str, Any]]
    env_from: list[dict[str, Any]]
    requests: dict[str, Any]


def helm_template(values: Path, sets: dict[str, str]) -> list[dict[str, Any]]:
    servers = _load_servers()
    helm = servers.tools_dir() / "bin" / "helm"
    if not os.access(helm, os.X_OK):
        raise SystemExit(f"helm not found at {helm}: run `make deps`")
    args = [str(helm), "template", "rtcc", str(CHART), "--namespace", "rtcc"]
    args += ["--kube-version", "1.30.0", "--values", str(values)]
    args += ["--set", ",".join(f"{k}={v}" for k, v in sets.items())]
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def workloads(objects: list[dict[str, Any]]) -> tuple[dict[str, Workload], dict[str, str]]:
    """The targets' workloads and the ConfigMap's data."""
    (config,) = [o for o in objects if o["kind"] == "ConfigMap"]
    hpa_min = {
        o["spec"]["scaleTargetRef"]["name"]: int(o["spec"]["minReplicas"])
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    found: dict[str, Workload] = {}
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        container = obj["spec"]["template"]["spec"]["containers"][0]
        args = container.get("args", [])
        if not args or args[0] != "serve":
            continue
        target = args[1].removeprefix("--target=")
        name = obj["metadata"]["name"]
        replicas = obj["spec"].get("replicas") or hpa_min[name]
        found[target] = Workload(
            target, obj["kind"], name, int(replicas), container.get("env", []),
            container.get("envFrom", []), container.get("resources", {}).get("requests", {}),
        )  # fmt: skip
    return found, dict(config["data"])


_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def pod_env(
    workload: Workload,
    config: dict[str, str],
    secret_values: dict[tuple[str, str], str],
    fields: dict[str, str],
) -> dict[str, str]:
    """The environment Kubernetes would give the pod (envFrom, then env in order)."""
    env: dict[str, str] = {}
    for source in workload.env_from:
        if "configMapRef" in source:
            env.update(config)
        else:
            raise SystemExit(f"{workload.name}: envFrom {source} is not modelled here")
    for item in workload.env:
        if "value" in item:
            value = _REF.sub(lambda m: env.get(m.group(1), m.group(0)), str(item["value"]))
        else:
            ref = item["valueFrom"]
            if "secretKeyRef" in ref:
                key = (ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
                if key not in secret_values:
                    raise SystemExit(f"{workload.name}: no local value for Secret {key}")
                value = secret_values[key]
            elif "fieldRef" in ref:
                value = fields[ref["fieldRef"]["fieldPath"]]
            elif "configMapKeyRef" in ref:
                value = config[ref["configMapKeyRef"]["key"]]
            else:
                raise SystemExit(f"{workload.name}: {item['name']} from {ref} is not modelled")
        env[item["name"]] = value
    return env


# -- processes -----------------------------------------------------------------------


@dataclass
class Replica:
    target: str
    name: str  # the pod name
    grpc: str
    http_port: int
    env: dict[str, str] = field(default_factory=dict)
    process: Any = None

    @property
    def pid(self) -> int:
        return int(self.process.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS


def tree(pid: int) -> list[int]:
    """A process and its descendants (PostgreSQL's backends)."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(parts[1])].append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_cpu(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def rss_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def tcp_bytes() -> dict[tuple[int, str, str], tuple[int, int]]:
    """(pid, local, peer) -> (bytes received, bytes sent) of every TCP socket on lo."""
    out = subprocess.run(
        ["ss", "-tinpH", "state", "established"], capture_output=True, text=True, check=True
    ).stdout
    sockets: dict[tuple[int, str, str], tuple[int, int]] = {}
    current: list[tuple[int, str, str]] = []
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):
            parts = line.split()
            local, peer = parts[2], parts[3]
            current = [(int(p), local, peer) for p in re.findall(r"pid=(\d+)", line)]
            continue
        received = re.search(r"bytes_received:(\d+)", line)
        sent = re.search(r"bytes_sent:(\d+)", line)
        for key in current:
            sockets[key] = (int(received.group(1)) if received else 0,
                            int(sent.group(1)) if sent else 0)  # fmt: skip
    return sockets


def flows(
    before: dict[tuple[int, str, str], tuple[int, int]],
    after: dict[tuple[int, str, str], tuple[int, int]],
    peers: dict[int, str],
) -> dict[int, dict[str, list[int]]]:
    """pid -> peer kind -> [received, sent] over the window (sockets open at its end)."""
    result: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for key, (received, sent) in after.items():
        pid, _local, peer = key
        r0, s0 = before.get(key, (0, 0))
        kind = peers.get(int(peer.rsplit(":", 1)[1]), "rtcc peers / clients")
        result[pid][kind][0] += received - r0
        result[pid][kind][1] += sent - s0
    return result


async def wait_serving(address: str, within_s: float = 300) -> None:
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
        await asyncio.sleep(0.5)  # polling interval, not a guess at readiness
    raise RuntimeError(f"{address} did not serve within {within_s} s")


async def first_frame(base: str, camera_id: str, token: str) -> float:
    """ms from the WHEP offer to the first decoded frame of a live camera."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    tracks: asyncio.Queue[Any] = asyncio.Queue()
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
            await asyncio.wait_for(track.recv(), 15)
            return (time.monotonic() - started) * 1000
    finally:
        await pc.close()


async def retried(call: Any, attempts: int = 5) -> Any:
    """An idempotent setup call, again after UNAVAILABLE (an overloaded machine)."""
    for attempt in range(attempts):
        try:
            return await call()
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE or attempt == attempts - 1:
                raise
            await asyncio.sleep(2)  # back off before the next attempt


async def stop(rep: Replica, grace_s: float = 60.0) -> None:
    """Wait for a terminated process; kill it if it has not exited after `grace_s`."""
    try:
        await asyncio.wait_for(rep.process.wait(), grace_s)
    except TimeoutError:
        print(f"{rep.name} still running {grace_s:.0f} s after SIGTERM: killed", file=sys.stderr)
        rep.process.kill()
        await rep.process.wait()


async def wait_until(what: str, check: Any, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {within_s:.0f} s")
        await asyncio.sleep(1)  # polling interval


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- the run -------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    servers = _load_servers()
    root = Path(tempfile.mkdtemp(prefix="rtcc-city-"))
    print(f"logs and data in {root}" + ("" if args.keep else " (removed at the end; --keep)"))
    backends = {name: servers.start(name) for name in ("postgres", "minio", "nats")}
    pg, s3, bus = (urlsplit(backends[n].url) for n in ("postgres", "minio", "nats"))
    sets = {
        "externalDatabase.host": "127.0.0.1", "externalDatabase.port": str(pg.port),
        "externalDatabase.user": "postgres", "externalDatabase.database": "postgres",
        "externalDatabase.query": "",
        "externalS3.host": "127.0.0.1", "externalS3.port": str(s3.port),
        "externalS3.secure": "false", "externalS3.region": "us-east-1",
        "externalNats.host": "127.0.0.1", "externalNats.port": str(bus.port),
    }  # fmt: skip
    for item in args.set:  # e.g. config.env.RTCC_INGEST__MAX_CAMERAS=40
        key, _, value = item.partition("=")
        sets[key] = value
    objects = helm_template(args.values, sets)
    targets, config = workloads(objects)
    jwt = secrets.token_urlsafe(40)
    secret_values = {
        ("rtcc-auth", "jwt-secret"): jwt,
        ("rtcc-db-app", "password"): "trust-auth",
        ("rtcc-s3", "access-key-id"): s3.username or "",
        ("rtcc-s3", "secret-access-key"): s3.password or "",
        ("rtcc-registry-credentials-keys", "keys"): json.dumps([secrets.token_urlsafe(32)]),
    }
    counts = {t: targets[t].replicas for t in ORDER}
    for item in args.replicas:
        target, _, n = item.partition("=")
        counts[target] = int(n)
    replicas: dict[str, list[Replica]] = {}
    for target in ORDER:
        pod = targets[target].name
        names = [
            f"{pod}-{i}"
            if targets[target].kind == "StatefulSet"
            else f"{pod}-{secrets.token_hex(3)}"
            for i in range(counts[target])
        ]
        replicas[target] = [
            Replica(target, n, f"127.0.0.1:{free_port()}", free_port()) for n in names
        ]
    remapped: set[str] = set()
    for target in ORDER:
        for i, rep in enumerate(replicas[target]):
            env = pod_env(targets[target], config, secret_values,
                          {"metadata.name": rep.name, "status.podIP": "127.0.0.1"})  # fmt: skip
            data = root / rep.name
            data.mkdir()
            local = {
                "RTCC_DATA_DIR": str(data),
                "RTCC_GRPC_LISTEN": rep.grpc,
                "RTCC_HTTP_LISTEN": f"127.0.0.1:{rep.http_port}",
                "RTCC_METRICS_LISTEN": "127.0.0.1:0",
            }
            for peer in ORDER:
                local[f"RTCC_PEERS__{peer.upper()}"] = replicas[peer][i % len(replicas[peer])].grpc
            if "RTCC_INGEST__ADVERTISE_ADDRESS" in env:
                local["RTCC_INGEST__ADVERTISE_ADDRESS"] = rep.grpc
            if "RTCC_PLAYBACK__ADVERTISE_ADDRESS" in env:
                local["RTCC_PLAYBACK__ADVERTISE_ADDRESS"] = rep.grpc
                local["RTCC_PLAYBACK__ADVERTISE_URL"] = f"http://127.0.0.1:{rep.http_port}"
            remapped |= {k for k in local if k in env}
            env |= local
            cluster = {k: v for k, v in env.items() if ".svc" in v or "cluster.local" in v}
            if cluster:
                raise SystemExit(f"{rep.name}: values still naming the cluster: {cluster}")
            rep.env = env
    print(f"chart: {args.values.relative_to(ROOT)} rendered with --set "
          + ",".join(f"{k}={v}" for k, v in sets.items()))  # fmt: skip
    print("re-mapped for one machine: " + ", ".join(sorted(remapped)))
    print("processes: " + ", ".join(f"{len(replicas[t])} {t}" for t in ORDER))

    analysed_n = max(1, round(args.cameras * args.analytics_share)) if args.analytics_share else 0
    sim = Simulator(
        args.cameras, Path(args.cache_dir), scene_seconds=10.0,
        main_size=args.size, bitrate=args.bitrate, sub_bitrate=args.sub_bitrate,
        shared_media=True,
    )  # fmt: skip
    everyone = [rep for t in ORDER for rep in replicas[t]]
    db = None
    try:
        await sim.start()

        async def spawn(rep: Replica) -> None:
            log = (root / f"{rep.name}.log").open("ab")
            rep.process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", SERVE, "serve", f"--target={rep.target}",
                env={**os.environ, **rep.env}, stdout=log, stderr=log,
            )  # fmt: skip

        for rep in replicas["registry"]:
            await spawn(rep)
        await asyncio.gather(*(wait_serving(r.grpc) for r in replicas["registry"]))
        authority = TokenAuthority(jwt)
        admin = authority.mint(subject="bench", org_id=PLATFORM_ORG, roles=["platform-admin"])
        async with open_channel(replicas["registry"][0].grpc, lambda: admin) as channel:
            org = await registry_pb2_grpc.RegistryServiceStub(channel).CreateOrganization(
                registry_pb2.CreateOrganizationRequest(
                    organization=registry_pb2.Organization(
                        display_name="City", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                    )
                )
            )
            org_id = org.organization.id
            ids = await register_cameras(channel, sim.cameras, organization_id=org_id)
        rest = [rep for t in ORDER[1:] for rep in replicas[t]]
        for rep in rest:
            await spawn(rep)
        await asyncio.gather(*(wait_serving(r.grpc) for r in rest))
        # Analytics on every k-th camera, on its sub stream (as a city would configure it).
        step = args.cameras / analysed_n if analysed_n else 0
        analysed = [ids[int(i * step)] for i in range(analysed_n)]
        owner = authority.mint(subject="bench", org_id=org_id, roles=["partner-admin"])
        async with open_channel(replicas["analytics"][0].grpc, lambda: owner) as channel:
            stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
            for camera_id in analysed:
                config = analytics_pb2.DetectorConfig(
                    camera_id=camera_id, enabled=True, fps=args.analytics_fps,
                    detectors=[analytics_pb2.DETECTOR_TYPE_OBJECT],
                    stream=common_pb2.CAMERA_STREAM_SUB,
                )  # fmt: skip
                request = analytics_pb2.UpdateDetectorConfigRequest(detector_config=config)
                await retried(lambda r=request: stub.UpdateDetectorConfig(r, timeout=30))
        db = await open_database(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres")
        leases, index = LeaseStore(db), SegmentIndex(db)

        async def all_leased() -> bool:
            return len(await leases.unexpired(INGEST_POOL)) >= len(ids) and len(
                await leases.unexpired(ANALYTICS_POOL)
            ) >= len(analysed)

        try:
            await wait_until("every camera leased (ingest and analytics)", all_leased, 180)
        except RuntimeError as exc:  # an overloaded machine: measure what runs, and say so
            print(f"warning: {exc}; measuring the cameras leased", file=sys.stderr)
        await asyncio.sleep(args.warmup)  # a warm-up: sessions connect, segments start
        pids = {rep.name: rep.pid for rep in everyone}
        pids["simulator"] = sim._process.pid  # type: ignore[union-attr]
        backend_pids = {n: s.process.pid for n, s in backends.items()}
        peers = {sim.port: "cameras (RTSP)", s3.port: "object store", pg.port: "PostgreSQL",
                 bus.port: "NATS"}  # fmt: skip
        net0, t0 = tcp_bytes(), time.monotonic()
        cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
        bcpu0 = {n: tree_cpu(p) for n, p in backend_pids.items()}
        start = dt.datetime.now(dt.UTC)
        await asyncio.sleep(args.seconds)  # the measurement window
        end = dt.datetime.now(dt.UTC)
        cpu1 = {n: cpu_seconds(p) for n, p in pids.items()}
        bcpu1 = {n: tree_cpu(p) for n, p in backend_pids.items()}
        net1, t1 = tcp_bytes(), time.monotonic()
        window = t1 - t0
        load = load_average()
        rss = {n: rss_mib(p) for n, p in pids.items()}
        brss = {n: sum(rss_mib(p) for p in tree(pid)) for n, pid in backend_pids.items()}
        net = flows(net0, net1, peers)
        held: dict[str, int] = defaultdict(int)
        for lease in await leases.unexpired(INGEST_POOL):
            held[lease.replica_id] += 1
        a_held: dict[str, int] = defaultdict(int)
        for lease in await leases.unexpired(ANALYTICS_POOL):
            a_held[":" + lease.replica_id.rsplit(":", 1)[-1]] += 1  # host:pid
        stored = 0
        for camera_id in ids:
            for seg in await index.overlapping(camera_id, MAIN, start, end):
                stored += seg.size_bytes
        async with db.transaction(readonly=True) as conn:
            status = (await conn.execute(sa.select(detector_status))).mappings().all()
            n_events = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(events)
                    .where(events.c.create_time >= start, events.c.create_time < end)
                )
            ).scalar_one()
        viewer = authority.mint(subject="viewer", org_id=org_id, roles=["operator"])
        times: dict[str, list[float]] = defaultdict(list)
        failed: list[str] = []
        for i in range(args.viewers):
            rep = replicas["playback"][i % len(replicas["playback"])]
            camera_id = ids[(i * 7 + 3) % len(ids)]
            try:
                ms = await first_frame(f"http://127.0.0.1:{rep.http_port}", camera_id, viewer)
                times[rep.name].append(ms)
            except (RuntimeError, TimeoutError, aiohttp.ClientError) as exc:
                failed.append(f"{rep.name} {camera_id}: {exc}")
    finally:
        if db is not None:
            await db.close()
        for rep in everyone:
            if rep.process is not None and rep.process.returncode is None:
                rep.process.terminate()
        await asyncio.gather(*(stop(r) for r in everyone if r.process is not None))
        await sim.stop()
        for server in backends.values():
            server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report(args, replicas, held, a_held, window, load, cpu0, cpu1, rss, pids, net,
           bcpu0, bcpu1, brss, stored, status, n_events, times, failed, analysed)  # fmt: skip


def report(
    args: argparse.Namespace, replicas: dict[str, list[Replica]], held: dict[str, int],
    a_held: dict[str, int], window: float, load: str, cpu0: dict[str, float],
    cpu1: dict[str, float], rss: dict[str, float], pids: dict[str, int],
    net: dict[int, dict[str, list[int]]], bcpu0: dict[str, float], bcpu1: dict[str, float],
    brss: dict[str, float], stored: int, status: Any, n_events: int,
    times: dict[str, list[float]], failed: list[str], analysed: list[str],
) -> None:  # fmt: skip
    n = args.cameras

    def mbps(b: int) -> float:
        return b * 8 / window / 1e6

    def cpu(name: str) -> float:
        return (cpu1[name] - cpu0[name]) / window * 100

    print(f"\n{n} cameras ({args.size[0]}x{args.size[1]}, {args.bitrate}bit/s main), "
          f"{len(analysed)} analysed at {args.analytics_fps:g} fps (sub stream), "
          f"{window:.0f} s window, load average at its end {load}")  # fmt: skip
    print("TCP Mbit/s over the window, by peer: cameras in; object store out; PostgreSQL +")
    print("NATS in/out; other rtcc processes and clients in/out (simulator: out to cameras)")
    print(f"{'process':<24}{'CPU %':>7}{'RSS MiB':>9}{'leases':>8}"
          f"{'cams in':>9}{'store out':>10}{'db+bus':>13}{'peers':>13}")  # fmt: skip
    names = [rep.name for t in ORDER for rep in replicas[t]] + ["simulator"]
    for name in names:
        pid = pids[name]
        mine = net.get(pid, {})
        cam = mine.get("cameras (RTSP)", [0, 0])[0]
        out = mine.get("object store", [0, 0])[1]
        backend = [sum(mine.get(k, [0, 0])[i] for k in ("PostgreSQL", "NATS")) for i in (0, 1)]
        peer = mine.get("rtcc peers / clients", [0, 0])
        if name == "simulator":
            cam, peer = sum(v[1] for v in mine.values()), [0, 0]
        lease = held.get(name) or a_held.get(f":{pid}") or ""
        print(f"{name:<24}{cpu(name):>7.1f}{rss[name]:>9.0f}{lease!s:>8}{mbps(cam):>9.2f}"
              f"{mbps(out):>10.2f}{mbps(backend[0]):>7.2f}/{mbps(backend[1]):<5.2f}"
              f"{mbps(peer[0]):>7.2f}/{mbps(peer[1]):<5.2f}")  # fmt: skip
    for name in bcpu0:
        print(f"{name:<24}{(bcpu1[name] - bcpu0[name]) / window * 100:>7.1f}{brss[name]:>9.0f}")

    def group(target: str) -> tuple[float, float]:
        reps = replicas[target]
        return sum(cpu(r.name) for r in reps), sum(rss[r.name] for r in reps)

    ingest_cpu, ingest_rss = group("ingest")
    rec = sum(held.values()) or n  # cameras leased at the window's end
    print(f"\ncameras leased by ingest at the end of the window: {rec} of {n}")
    ingest_in = sum(mbps(net.get(r.pid, {}).get("cameras (RTSP)", [0, 0])[0])
                    for r in replicas["ingest"])  # fmt: skip
    ingest_out = sum(mbps(net.get(r.pid, {}).get("object store", [0, 0])[1])
                     for r in replicas["ingest"])  # fmt: skip
    base = statistics.median(rss[r.name] for t in ("registry", "alerting", "evidence")
                             for r in replicas[t])  # fmt: skip
    print(f"per camera: ingest {ingest_cpu / rec:.2f} % of a core, "
          f"{(ingest_rss - base * len(replicas['ingest'])) / rec:.1f} MiB above "
          f"{len(replicas['ingest'])} process bases of ~{base:.0f} MiB; "
          f"{ingest_in / rec:.2f} Mbit/s in from cameras, {ingest_out / rec:.2f} Mbit/s to the "
          "object store")  # fmt: skip
    per_day = stored / rec / window * 86400 / 2**30
    print(f"stored per camera: {stored * 8 / window / rec / 1e6:.2f} Mbit/s = "
          f"{per_day:.2f} GiB a day (segments indexed in the window)")  # fmt: skip
    print(f"simulator: {cpu('simulator'):.1f} % of a core for {n} cameras")
    mine = [s for s in status if s["camera_id"] in set(analysed)]
    states = sorted({(s["state"], s["last_error"][:80]) for s in mine})
    print(f"analytics states (DetectorState, last error): {states}")
    fps_in = sum(s["input_fps"] for s in mine)
    fps_done = sum(s["processed_fps"] for s in mine)
    dropped = sum(s["dropped_frames"] for s in mine)
    a_cpu, a_rss = group("analytics")
    per_frame = a_cpu / 100 / fps_done if fps_done else float("nan")
    print(f"analytics: {len(mine)} cameras reporting, {fps_in:.1f} frames/s in, "
          f"{fps_done:.1f} processed/s, {dropped} dropped in all, {n_events} events in the "
          f"window; {a_cpu:.0f} % CPU -> {per_frame * 1000:.0f} ms of a core a frame; "
          f"{(a_rss - base * len(replicas['analytics'])) / max(1, len(analysed)):.0f} MiB "
          "an analysed camera above the process bases")  # fmt: skip
    for line in failed:
        print(f"live first frame failed via {line}")
    for name, ms in times.items():
        print(f"live first frame via {name} (n={len(ms)}): p50 {statistics.median(ms):.0f} ms, "
              f"max {max(ms):.0f} ms")  # fmt: skip
    total = sum(cpu(x) for x in names) + sum((bcpu1[b] - bcpu0[b]) / window * 100 for b in bcpu0)
    print(f"all processes above: {total:.0f} % of a core (machine: {os.cpu_count()} cores)")

    bitrate = parse_bitrate(args.bitrate)
    share = len(analysed) / n
    demand = Demand(cameras=n, bitrate_bps=bitrate, retention_days=30, analytics_share=share,
                    analytics_fps=args.analytics_fps, viewer_share=0.0)  # fmt: skip
    model = plan(demand)
    print(f"\nthe capacity model beside it: rtcc plan --cameras {n} --bitrate {args.bitrate} "
          f"--retention 30d --analytics-share {share:g} --analytics-fps {args.analytics_fps:g} "
          "--viewer-share 0")  # fmt: skip
    print(f"{'':<12}{'model cores':>12}{'measured':>10}{'model GiB':>11}{'measured':>10}")
    for target in ("ingest", "analytics"):
        t = model.target(target)
        c, r = group(target)
        print(f"{target:<12}{t.cores:>12.2f}{c / 100:>10.2f}{t.memory_gib:>11.2f}{r / 1024:>10.2f}")
    model_day = n * bitrate / 8 * 86400 / 2**30
    measured_day = stored / window * 86400 / 2**30 * n / rec
    print(f"{'storage/day':<12}{model_day:>12.1f}{measured_day:>10.1f}  GiB (all {n} cameras)")
    print()
    print(render_plan(model))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60, help="measurement window")
    parser.add_argument("--warmup", type=float, default=15, help="after every camera is leased")
    parser.add_argument("--viewers", type=int, default=8, help="live first frames, all replicas")
    parser.add_argument("--analytics-share", type=float, default=0.1)
    parser.add_argument("--analytics-fps", type=float, default=1.0)
    parser.add_argument(
        "--size", type=lambda s: tuple(int(x) for x in s.split("x")), default=(640, 360)
    )
    parser.add_argument("--bitrate", default="1M")
    parser.add_argument("--sub-bitrate", default="300k")
    parser.add_argument("--values", type=Path, default=PRODUCTION, help="chart values")
    parser.add_argument("--replicas", action="append", default=[], help="target=N override")
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for helm")
    parser.add_argument("--cache-dir", default="var/sim")
    parser.add_argument("--keep", action="store_true", help="keep the processes' logs and data")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
