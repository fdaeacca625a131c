"""Alerting end to end: external event received -> alert with cameras, plate reads and
history stored and streamed; a burst without loss; hot list checks per read.

One all-in-one process (registry, analytics, alerting on SQLite or PostgreSQL, the
in-process bus): cameras are loaded through the registry's own store, plate-read events
and earlier alerts by bulk SQL inserts (sizes in the table header). Then:

* latency: signed ShotSpotter-style reports POSTed one at a time at random camera
  locations; each is timed from the POST until a StreamAlerts subscriber (gRPC) has the
  alert, whose correlation (cameras in view, reads in the window, history) was stored
  before it was announced; p50/p95;
* burst: reports at a fixed rate (200/s for 5 s), each in its own task; lost = reports
  without an alert on the stream 30 s after the last was sent;
* hot list: 1,000,000 plates indexed; the time to check one read (every list) p50/p99.

    .venv/bin/python bench/alerting_pipeline.py [--cameras N] [--reads N]
        [--database sqlite|postgresql]

Goal (issue 10): p95 < 0.5 s with 100,000 cameras and 5 M reads; 200 events/s without
loss; a read checked against 1 M hot-listed plates in < 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from sqlalchemy.engine import make_url

from rtcc.alerting import hotlist as hl
from rtcc.alerting import signing
from rtcc.alerting.tables import alerts as alerts_table
from rtcc.alerting.v1 import alerting_pb2 as apb
from rtcc.alerting.v1 import alerting_pb2_grpc as apbg
from rtcc.analytics.tables import events as events_table
from rtcc.backends.database import Database, open_database
from rtcc.core.auth import PLATFORM_ORG, Principal
from rtcc.core.clients import open_channel
from rtcc.core.config import Settings
from rtcc.core.server import start_platform
from rtcc.registry.camera_store import CameraStore
from rtcc.registry.change_log import ChangeFeed
from rtcc.registry.credentials import CredentialBox
from rtcc.registry.org_store import OrganizationStore
from rtcc.registry.v1 import registry_pb2 as rpb

ROOT = Path(__file__).resolve().parents[1]
CENTRE = (41.8781, -87.6298)
HALF = (0.135, 0.18)  # about 30 km x 30 km
ORG = "org_bench"
SECRET = "bench-gunshot-secret-0123456789"
# A feed retries a refused report (429/503) this long, as gunshot and CAD senders do.
RETRY_FOR_S = 120.0
LOADER = Principal("bench-loader", PLATFORM_ORG, frozenset({"platform-admin"}))


def point(rng: random.Random) -> tuple[float, float]:
    return (CENTRE[0] + rng.uniform(-HALF[0], HALF[0]), CENTRE[1] + rng.uniform(-HALF[1], HALF[1]))


async def load_cameras(db: Database, n: int, rng: random.Random) -> list[tuple[str, float, float]]:
    feed = ChangeFeed(db)
    store = CameraStore(CredentialBox(b"bench-secret-of-some-length"))
    async with feed.write(LOADER) as tx:
        org = rpb.Organization(display_name="Bench PD", kind=rpb.ORGANIZATION_KIND_AGENCY)
        await OrganizationStore().create(tx, org, ORG)
    out = []
    for start in range(0, n, 5000):
        batch = []
        for i in range(start, min(n, start + 5000)):
            lat, lon = point(rng)
            cam = rpb.Camera(
                organization_id=ORG,
                display_name=f"camera {i}",
                external_id=f"asset-{i}",
                location={"latitude": lat, "longitude": lon},
            )
            cam.field_of_view.heading_degrees = rng.uniform(0, 359.9)
            cam.field_of_view.angle_degrees = rng.choice([60, 90, 110, 360])
            cam.field_of_view.range_meters = rng.uniform(30, 150)
            batch.append((cam, None))
        async with feed.write(LOADER) as tx:
            for created in await store.create(tx, batch):
                out.append((created.id, created.location.latitude, created.location.longitude))
    return out


async def load_reads(
    db: Database, cams: list[tuple[str, float, float]], n: int, now: dt.datetime, rng: random.Random
) -> None:
    """Plate-read events over the past 7 days (what correlation searches)."""
    span = 7 * 86400
    batch: list[dict[str, Any]] = []
    for i in range(n):
        cid, lat, lon = cams[rng.randrange(len(cams))]
        when = now - dt.timedelta(seconds=rng.randrange(span))
        batch.append(
            {
                "id": f"evt_{i:09d}",
                "camera_id": cid,
                "organization_id": ORG,
                "type": 6,
                "object_class": 4,
                "track_id": "",
                "confidence": 0.9,
                "event_time": when,
                "start_time": when,
                "box": [0.1, 0.1, 0.1, 0.1],
                "primary_color": 0,
                "secondary_color": 0,
                "vehicle_type": 0,
                "attributes": {},
                "zone_id": "",
                "line_id": "",
                "crossing_direction": 0,
                "plate_read_id": f"plr_{i:09d}",
                "latitude": lat,
                "longitude": lon,
                "snapshot_key": "",
                "create_time": when,
            }
        )
        if len(batch) == 20_000:
            async with db.transaction() as conn:
                await conn.execute(events_table.insert(), batch)
            batch = []
    if batch:
        async with db.transaction() as conn:
            await conn.execute(events_table.insert(), batch)


async def load_history(db: Database, n: int, now: dt.datetime, rng: random.Random) -> None:
    rows = []
    for i in range(n):
        lat, lon = point(rng)
        when = now - dt.timedelta(seconds=rng.randrange(90 * 86400))
        rows.append(
            {
                "id": f"alr_hist{i:08d}",
                "organization_id": ORG,
                "rule_id": "",
                "kind": "cad_incident",
                "title": "old incident",
                "severity": 2,
                "state": 3,
                "latitude": lat,
                "longitude": lon,
                "source": "cad",
                "source_event_id": f"old-{i}",
                "source_revision": 0,
                "merge_key": "",
                "first_trigger_time": when,
                "last_trigger_time": when,
                "trigger_count": 1,
                "triggers": [],
                "notes": [],
                "assignee": "",
                "assigned_unit": "",
                "outcome": 1,
                "dismiss_reason": "",
                "escalation_level": 0,
                "merged_into": "",
                "correlation": {},
                "details": {},
                "create_time": when,
                "acknowledge_time": None,
                "resolve_time": when,
                "update_time": when,
                "etag": "x",
                "sequence": 0,
            }
        )
    for start in range(0, n, 5000):
        async with db.transaction() as conn:
            await conn.execute(alerts_table.insert(), rows[start : start + 5000])


def gunshot(incident: str, lat: float, lon: float) -> bytes:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<Incident><ID>{incident}</ID><Revision>1</Revision><Type>Multiple Gunshots</Type>"
        f"<Time>{stamp}</Time><Latitude>{lat:.6f}</Latitude><Longitude>{lon:.6f}</Longitude>"
        "<Rounds>3</Rounds></Incident>"
    ).encode()


class Harness:
    def __init__(self, http: str, session: aiohttp.ClientSession) -> None:
        self.http, self.session = http, session
        self.arrived: dict[str, float] = {}
        self.sent: dict[str, float] = {}
        self.summaries: dict[str, Any] = {}
        self.changed = asyncio.Event()
        self.statuses: dict[int, int] = {}
        self.reconnects = 0
        self.errors: dict[str, int] = {}

    async def until(self, done: Any, within_s: float) -> None:
        """Wait until ``done()`` holds (woken by each arrival) or the time is up."""
        deadline = time.perf_counter() + within_s
        while not done() and time.perf_counter() < deadline:
            self.changed.clear()
            try:
                await asyncio.wait_for(
                    self.changed.wait(), max(0.0, deadline - time.perf_counter())
                )
            except TimeoutError:
                break

    async def post_retrying(self, incident: str, lat: float, lon: float) -> int:
        """As a feed does: retry a 503 (busy) with backoff; other answers are final."""
        delay, give_up = 0.5, time.perf_counter() + RETRY_FOR_S
        while True:
            status = await self.post(incident, lat, lon)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status not in (429, 503) or time.perf_counter() > give_up:
                return status
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 4.0)

    async def post(self, incident: str, lat: float, lon: float) -> int:
        body = gunshot(incident, lat, lon)
        stamp = int(time.time())
        headers = {
            signing.TIMESTAMP_HEADER: str(stamp),
            signing.SIGNATURE_HEADER: signing.sign(SECRET, stamp, body),
        }
        self.sent[incident] = time.perf_counter()
        url = f"{self.http}/alerting/sources/shotspotter/events"
        async with self.session.post(url, data=body, headers=headers) as resp:
            answer = await resp.json()
            if resp.status >= 300 and resp.status != 409:
                error = str(answer.get("error", ""))[:80]
                self.errors[error] = self.errors.get(error, 0) + 1
            return resp.status

    async def follow(self, stub: Any) -> None:
        """A console: follows the stream and, when it breaks, resumes from its cursor."""
        cursor = 0
        while True:
            try:
                async for message in stub.StreamAlerts(
                    apb.StreamAlertsRequest(after_sequence=cursor)
                ):
                    cursor = message.sequence
                    self._seen(message)
            except grpc.aio.AioRpcError:
                self.reconnects += 1
                await asyncio.sleep(0.2)

    def _seen(self, message: Any) -> None:
        if message.change == apb.ALERT_CHANGE_CREATED:
            key = message.alert.source_event_id
            self.arrived.setdefault(key, time.perf_counter())
            self.summaries[key] = message.alert.correlation
            self.changed.set()


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(10)
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/rtcc.db"
    db = await open_database(url)
    await db.migrate()
    now = dt.datetime.now(dt.UTC)
    t = time.perf_counter()
    cams = await load_cameras(db, args.cameras, rng)
    t_cams = time.perf_counter() - t
    t = time.perf_counter()
    await load_reads(db, cams, args.reads, now, rng)
    t_reads = time.perf_counter() - t
    await load_history(db, args.history, now, rng)
    if db.dialect == "postgresql":
        async with db.transaction() as conn:
            await conn.exec_driver_sql("ANALYZE")
    await db.close()
    print(
        f"seeded {len(cams)} cameras in {t_cams:.0f} s, {args.reads} plate-read events in "
        f"{t_reads:.0f} s, {args.history} earlier alerts",
        flush=True,
    )

    settings = Settings(
        grpc_listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        metrics_listen="127.0.0.1:0",
        data_dir=Path(tempfile.mkdtemp()),
        database_url=url,
        auth={"jwt_secret": secrets.token_urlsafe(40)},
        log_level="warning",
        alerting={
            "sources": [
                {"name": "shotspotter", "kind": "gunshot", "organization_id": ORG, "secret": SECRET}
            ],
            "tick_s": 3600,
            "escalate_after_s": 0,
        },
    )
    platform = await start_platform(settings, ["registry", "analytics", "alerting"])
    try:
        token = platform.token(subject="op@bench", org_id=ORG, roles=["operator"])
        channel = open_channel(platform.grpc_address, lambda: token)
        stub = apbg.AlertingServiceStub(channel)
        async with aiohttp.ClientSession() as session:
            h = Harness(f"http://127.0.0.1:{platform.http.port}", session)  # type: ignore[union-attr]
            follower = asyncio.create_task(h.follow(stub))
            await asyncio.sleep(0.5)
            await _latency(h, cams, rng, args.events)
            await _burst(h, cams, rng, args.rate, args.seconds)
            follower.cancel()
        await channel.close()
    finally:
        await platform.stop(grace=0.5)
    _hotlist()


def _cam_point(cams: list[tuple[str, float, float]], rng: random.Random) -> tuple[float, float]:
    _, lat, lon = cams[rng.randrange(len(cams))]
    return lat + rng.uniform(-0.0003, 0.0003), lon + rng.uniform(-0.0003, 0.0003)


async def _latency(h: Harness, cams: list[Any], rng: random.Random, n: int) -> None:
    samples, sizes = [], []
    for i in range(n):
        key = f"LAT-{i}"
        status = await h.post(key, *_cam_point(cams, rng))
        assert status == 201, status
        await h.until(lambda k=key: k in h.arrived, 10)
        samples.append((h.arrived[key] - h.sent[key]) * 1000)
        c = h.summaries[key]
        sizes.append((c.camera_count, c.in_view_count, c.plate_read_count, c.prior_alert_count))
    q = statistics.quantiles(samples, n=100)
    mean = [statistics.mean(s[i] for s in sizes) for i in range(4)]
    print("| measure | n | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(f"| report → alert streamed | {n} | {q[49]:.1f} | {q[94]:.1f} | {max(samples):.1f} |")
    print(
        f"per alert (mean): {mean[0]:.1f} cameras, {mean[1]:.1f} in view, {mean[2]:.1f} reads, "
        f"{mean[3]:.1f} earlier alerts",
        flush=True,
    )


async def _burst(h: Harness, cams: list[Any], rng: random.Random, rate: int, seconds: int) -> None:
    n = rate * seconds
    keys = [f"BURST-{i}" for i in range(n)]
    points = [_cam_point(cams, rng) for _ in keys]
    start = time.perf_counter()
    tasks = []
    for i, key in enumerate(keys):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(h.post_retrying(key, *points[i])))
    statuses = await asyncio.gather(*tasks)
    sent_s = time.perf_counter() - start  # until the last report was answered
    await h.until(lambda: all(k in h.arrived for k in keys), RETRY_FOR_S + 30)
    got = sum(k in h.arrived for k in keys)
    last = max((h.arrived[k] for k in keys if k in h.arrived), default=start) - start
    lat = sorted((h.arrived[k] - h.sent[k]) * 1000 for k in keys if k in h.arrived)
    p95 = statistics.quantiles(lat, n=100)[94] if len(lat) > 2 else float("nan")
    print(
        f"| burst {rate}/s x {seconds} s | {n} sent in {sent_s:.1f} s | accepted "
        f"{sum(s == 201 for s in statuses)} | streamed {got} (lost {n - got}) | all streamed "
        f"after {last:.1f} s ({got / max(last, 1e-9):.0f}/s processed) | p95 from the accepted "
        f"attempt {p95:.0f} ms |",
        flush=True,
    )
    print(
        f"answers (with retries): {dict(sorted(h.statuses.items()))}; errors: {h.errors}; "
        f"stream reconnects: {h.reconnects}"
    )


def _hotlist() -> None:
    rng = random.Random(3)
    letters = "ABCDEFGHJKLMNPRTUVWXY0123456789"
    plates = {"".join(rng.choices(letters, k=7)) for _ in range(1_050_000)}
    entries = [
        hl.Entry(p, "", "stolen", None, None, i) for i, p in enumerate(list(plates)[:1_000_000])
    ]
    t = time.perf_counter()
    index = hl.HotlistIndex(entries, 1)
    build = time.perf_counter() - t
    reads = ["".join(rng.choices(letters, k=7)) for _ in range(100_000)] + [
        e.plate for e in entries[:1000]
    ]
    when = dt.datetime.now(dt.UTC)
    samples = []
    for plate in reads:
        t = time.perf_counter_ns()
        index.match(plate, when)
        samples.append((time.perf_counter_ns() - t) / 1000)
    q = statistics.quantiles(samples, n=100)
    print(
        f"| hot list 1,000,000 plates | index built in {build:.1f} s | check per read p50 "
        f"{q[49]:.1f} µs, p99 {q[98]:.1f} µs |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    args.database_url = ""
    if args.database == "postgresql":
        spec = importlib.util.spec_from_file_location(
            "rtcc_infra_servers", ROOT / "infra/servers.py"
        )
        assert spec is not None and spec.loader is not None
        servers = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = servers
        spec.loader.exec_module(servers)
        server = servers.start("postgres")
        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(server.url)
            await conn.execute('CREATE DATABASE "bench_alerting"')
            await conn.close()

        asyncio.run(create())
        args.database_url = (
            make_url(server.url)
            .set(database="bench_alerting")
            .render_as_string(hide_password=False)
        )
        try:
            asyncio.run(run(args))
        finally:
            server.stop()
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
