"""The world every security test runs in: one platform with every target, one camera.

The owner organisation's camera (`cam`) is a real simulated RTSP camera, recorded by
ingest, with a privacy mask over the top-left quadrant. Each caller of the matrix
belongs to its own organisation, holding exactly one kind of grant on `cam`. Another
organisation owns `other_cam` (registry only). Events, plate reads and snapshots are
inserted through the analytics store module, the same code the detectors' sink uses.

Every person shares the subject name `SUBJECT`: sessions and other per-user state must
be told apart by organisation too, not by subject alone.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import timestamp_pb2
from sqlalchemy.engine import make_url
from tests.waiting import wait_for

from rtcc.analytics.records import EventRecord, PlateReadRecord
from rtcc.analytics.sink import BUCKET as SNAPSHOTS
from rtcc.analytics.store import AnalyticsStore
from rtcc.common.v1 import common_pb2
from rtcc.core.clients import open_channel
from rtcc.core.config import Settings
from rtcc.core.server import Platform, start_platform
from rtcc.core.targets import TARGET_MODULES
from rtcc.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc
from rtcc.sim.simulator import SimulatedCamera

SUBJECT = "alex@city"
LAT, LNG = 12.3456, 45.6789
OTHER_LAT = LAT + 0.0003
PLATE, OTHER_PLATE = "MTX1234", "MTX5678"
# The privacy mask: the top-left quadrant of the image.
MASK = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5))
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")

# caller -> (organisation key, roles, subject)
OWNER = "owner-operator"
G_IN = "grantee-in-window"
G_OUT = "grantee-outside-window"
G_LIVE = "live-only-grantee"
G_REC = "recorded-only-grantee"
REVOKED = "revoked-grant"
EXPIRED = "expired-grant"
NO_GRANT = "no-grant"
OTHER_ADMIN = "other-org-admin"
PLATFORM_ADMIN = "platform-admin"
SERVICE = "service"
EXPIRED_TOKEN = "expired-token"
NO_TOKEN = "no-token"

CALLERS: dict[str, tuple[str, tuple[str, ...], str]] = {
    OWNER: ("owner", ("operator",), SUBJECT),
    G_IN: ("g_in", ("operator",), SUBJECT),
    G_OUT: ("g_out", ("operator",), SUBJECT),
    G_LIVE: ("g_live", ("operator",), SUBJECT),
    G_REC: ("g_rec", ("investigator",), SUBJECT),
    REVOKED: ("g_revoked", ("operator",), SUBJECT),
    EXPIRED: ("g_expired", ("operator",), SUBJECT),
    NO_GRANT: ("g_none", ("operator",), SUBJECT),
    OTHER_ADMIN: ("other", ("partner-admin",), SUBJECT),
    PLATFORM_ADMIN: ("platform", ("platform-admin",), "root@city"),
    SERVICE: ("platform", ("service",), "service:ingest"),
    EXPIRED_TOKEN: ("owner", ("operator",), SUBJECT),
    NO_TOKEN: ("owner", (), SUBJECT),
}
PEOPLE = tuple(c for c in CALLERS if c not in (SERVICE, EXPIRED_TOKEN, NO_TOKEN))
UNAUTHENTICATED_CALLERS = (EXPIRED_TOKEN, NO_TOKEN)


def ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


@dataclass
class World:
    """Handles on the running platform and ids of everything seeded."""

    platform: Platform
    backend: str
    orgs: dict[str, str]
    cam: str = ""
    plain_cam: str = ""  # the owner's camera without privacy masks (same video)
    other_cam: str = ""
    grants: dict[str, str] = field(default_factory=dict)
    segment: Any = None  # ingest_pb2.Segment of cam
    plain_segment: Any = None  # ingest_pb2.Segment of plain_cam
    events: dict[str, str] = field(default_factory=dict)  # camera key -> event id
    plate_reads: dict[str, str] = field(default_factory=dict)
    retention_run_id: str = ""
    problems: list[str] = field(default_factory=list)  # seeding steps that failed
    offer: str = ""  # a viewer's WebRTC offer (SDP)
    # service name -> True while it is served by its generated base (UNIMPLEMENTED)
    pending: dict[str, bool] = field(default_factory=dict)
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.platform.grpc_address

    @property
    def http_base(self) -> str:
        assert self.platform.http is not None
        return f"http://127.0.0.1:{self.platform.http.port}"

    def token(self, caller: str) -> str | None:
        org_key, roles, subject = CALLERS[caller]
        if caller == NO_TOKEN:
            return None
        ttl = dt.timedelta(seconds=-120) if caller == EXPIRED_TOKEN else dt.timedelta(hours=1)
        return self.platform.runtime.authority.mint(
            subject=subject, org_id=self.orgs[org_key], roles=list(roles), ttl=ttl
        )

    def channel(self, caller: str) -> grpc.aio.Channel:
        if caller not in self._channels:
            token = self.token(caller)
            self._channels[caller] = open_channel(self.address, (lambda: token) if token else None)
        return self._channels[caller]

    def org_of(self, caller: str) -> str:
        return self.orgs[CALLERS[caller][0]]

    def camera_key(self, camera_id: str) -> str:
        # The owner's two cameras are shared alike: their data is judged alike.
        keys = {self.cam: "cam", self.plain_cam: "cam", self.other_cam: "other_cam"}
        return keys.get(camera_id, "elsewhere")

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


def _settings(data_dir: Path, **overrides: Any) -> Settings:
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


@asynccontextmanager
async def backend_settings(
    backend: str, request: pytest.FixtureRequest, data_dir: Path
) -> AsyncIterator[Settings]:
    """Settings over embedded backends, or over a fresh PostgreSQL database, MinIO, NATS."""
    if backend == "embedded":
        yield _settings(data_dir)
        return
    admin_url: str = request.getfixturevalue("postgres_url")
    name = f"rtcc_sec_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield _settings(
            data_dir,
            database_url=url,
            object_store_url=request.getfixturevalue("minio_url"),
            bus_url=request.getfixturevalue("nats_url"),
        )
    finally:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()


async def start_all(settings: Settings) -> Platform:
    return await start_platform(settings, list(TARGET_MODULES))


def _window(start: dt.datetime, hours: float) -> rpb.ScheduleWindow:
    end = start + dt.timedelta(hours=hours)
    return rpb.ScheduleWindow(
        start=rpb.TimeOfDay(hours=start.hour, minutes=start.minute),
        end=rpb.TimeOfDay(hours=end.hour, minutes=end.minute),
    )


async def seed(world: World, camera: SimulatedCamera) -> None:
    """Organisations, cameras, grants, recordings, events, plate reads, a retention run."""
    admin = registry_pb2_grpc.RegistryServiceStub(world.channel(PLATFORM_ADMIN))
    for key, (org_key, _roles, _subject) in CALLERS.items():
        if org_key in world.orgs or key in UNAUTHENTICATED_CALLERS:
            continue
        org_id = f"org_sec{secrets.token_hex(5)}"
        await admin.CreateOrganization(
            rpb.CreateOrganizationRequest(
                organization=rpb.Organization(
                    display_name=f"Security {org_key}",
                    # Agencies are listed to everyone; camera owners are businesses.
                    kind=rpb.ORGANIZATION_KIND_PARTNER_BUSINESS
                    if org_key in ("owner", "other")
                    else rpb.ORGANIZATION_KIND_AGENCY,
                ),
                organization_id=org_id,
            )
        )
        world.orgs[org_key] = org_id
    owner_admin = _stub(world, "owner", "partner-admin")
    mask = common_pb2.ImagePolygon(vertices=[common_pb2.ImagePoint(x=x, y=y) for x, y in MASK])
    # A main URL is unique per organisation: the unmasked camera records the sub stream.
    for attr, masks, main, sub in (
        ("cam", [mask], camera.main_url, camera.sub_url),
        ("plain_cam", [], camera.sub_url, ""),
    ):
        created = await owner_admin.CreateCamera(
            rpb.CreateCameraRequest(
                camera=rpb.Camera(
                    organization_id=world.orgs["owner"],
                    display_name=f"Security {attr}",
                    location=common_pb2.LatLng(latitude=LAT, longitude=LNG),
                    streams=rpb.CameraStreams(main_url=main, sub_url=sub),
                    privacy_masks=masks,
                    recording_policy=rpb.RecordingPolicy(
                        mode=rpb.RECORDING_MODE_CONTINUOUS, retention_days=30
                    ),
                )
            )
        )
        setattr(world, attr, created.camera.id)
    other = await _stub(world, "other", "partner-admin").CreateCamera(
        rpb.CreateCameraRequest(
            camera=rpb.Camera(
                organization_id=world.orgs["other"],
                display_name="Other organisation's camera",
                location=common_pb2.LatLng(latitude=OTHER_LAT, longitude=LNG),
            )
        )
    )
    world.other_cam = other.camera.id
    await _grants(world, owner_admin)
    await _recording(world)
    await _analytics(world)
    await _detector_configs(world)
    try:
        run = await ingest_pb2_grpc.IngestServiceStub(
            world.channel(PLATFORM_ADMIN)
        ).StartRetentionRun(ingest_pb2.StartRetentionRunRequest())
        world.retention_run_id = run.retention_run.id
    except grpc.aio.AioRpcError as exc:
        world.problems.append(f"StartRetentionRun as platform-admin: {exc.code().name}")


def _stub(world: World, org_key: str, role: str) -> Any:
    token = world.platform.runtime.authority.mint(
        subject=f"admin@{org_key}", org_id=world.orgs[org_key], roles=[role]
    )
    key = f"{org_key}/{role}"
    if key not in world._channels:
        world._channels[key] = open_channel(world.address, lambda: token)
    return registry_pb2_grpc.RegistryServiceStub(world._channels[key])


async def _grants(world: World, owner_admin: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    utc = "UTC"
    inside = rpb.GrantSchedule(time_zone=utc, windows=[_window(now - dt.timedelta(hours=2), 4)])
    outside = rpb.GrantSchedule(time_zone=utc, windows=[_window(now + dt.timedelta(hours=3), 2)])
    shapes: dict[str, dict[str, Any]] = {
        "g_in": {"live": True, "recorded": True, "schedule": inside},
        "g_out": {"live": True, "recorded": True, "schedule": outside},
        "g_live": {"live": True},
        "g_rec": {"recorded": True},
        "g_revoked": {"live": True, "recorded": True},
        "g_expired": {
            "live": True,
            "recorded": True,
            "expire_time": ts(now + dt.timedelta(seconds=2)),
        },
    }
    for org_key, shape in shapes.items():
        grant = await owner_admin.CreateSharingGrant(
            rpb.CreateSharingGrantRequest(
                grant=rpb.SharingGrant(
                    grantee_organization_id=world.orgs[org_key],
                    camera_ids=[world.cam, world.plain_cam],
                    **shape,
                )
            )
        )
        world.grants[org_key] = grant.grant.id
    revoked = await owner_admin.RevokeSharingGrant(
        rpb.RevokeSharingGrantRequest(grant_id=world.grants["g_revoked"], reason="test")
    )
    assert revoked.grant.state == rpb.SHARING_GRANT_STATE_REVOKED

    async def expired() -> bool:
        got = await owner_admin.GetSharingGrant(
            rpb.GetSharingGrantRequest(grant_id=world.grants["g_expired"])
        )
        return bool(got.grant.state == rpb.SHARING_GRANT_STATE_EXPIRED)

    await wait_for(expired, within_s=15, what="the short grant to expire")


async def _recording(world: World) -> None:
    ingest = ingest_pb2_grpc.IngestServiceStub(world.channel(SERVICE))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for camera_id, attr in ((world.cam, "segment"), (world.plain_cam, "plain_segment")):
        request = ingest_pb2.ListSegmentsRequest(
            camera_id=camera_id, time_range=common_pb2.TimeRange(start_time=ts(start))
        )

        async def recorded(request: Any = request, attr: str = attr) -> bool:
            segments = (await ingest.ListSegments(request)).segments
            if len(segments) >= 2:
                setattr(world, attr, segments[0])
            return len(segments) >= 2

        await wait_for(recorded, within_s=60, what=f"two recorded segments of {attr}")


async def _analytics(world: World) -> None:
    store = AnalyticsStore(world.platform.runtime.db)
    objects = world.platform.runtime.objects
    await objects.ensure_bucket(SNAPSHOTS)
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    for key, camera_id, org_key, lat, plate in (
        ("cam", world.cam, "owner", LAT, PLATE),
        ("other_cam", world.other_cam, "other", OTHER_LAT, OTHER_PLATE),
    ):
        event_id, read_id = f"evt_sec{secrets.token_hex(6)}", f"plr_sec{secrets.token_hex(6)}"
        snap = f"security/{event_id}.jpg"
        await objects.put(SNAPSHOTS, snap, JPEG, content_type="image/jpeg")
        await store.add_events(
            [
                EventRecord(
                    id=event_id, camera_id=camera_id, organization_id=world.orgs[org_key],
                    type=6, object_class=2, track_id="t1", confidence=0.9, event_time=when,
                    start_time=when, box=(0.1, 0.1, 0.2, 0.2), plate_read_id=read_id,
                    latitude=lat, longitude=LNG, snapshot_key=snap,
                )
            ]
        )  # fmt: skip
        await store.add_plate_reads(
            [
                PlateReadRecord(
                    id=read_id, camera_id=camera_id, organization_id=world.orgs[org_key],
                    read_time=when, plate=plate, characters=[(c, 0.9) for c in plate],
                    confidence=0.9, box=(0.1, 0.1, 0.1, 0.05), event_id=event_id,
                    latitude=lat, longitude=LNG, snapshot_key=snap,
                )
            ]
        )  # fmt: skip
        world.events[key], world.plate_reads[key] = event_id, read_id


async def _detector_configs(world: World) -> None:
    from rtcc.analytics.v1 import analytics_pb2 as apb
    from rtcc.analytics.v1 import analytics_pb2_grpc

    for camera_id, org_key in ((world.cam, "owner"), (world.other_cam, "other")):
        token = world.platform.runtime.authority.mint(
            subject=f"admin@{org_key}", org_id=world.orgs[org_key], roles=["partner-admin"]
        )
        stub = analytics_pb2_grpc.AnalyticsServiceStub(world.channel(PLATFORM_ADMIN))
        try:
            await stub.UpdateDetectorConfig(
                apb.UpdateDetectorConfigRequest(
                    detector_config=apb.DetectorConfig(camera_id=camera_id, min_confidence=0.6),
                    update_mask={"paths": ["min_confidence"]},
                ),
                metadata=(("authorization", f"Bearer {token}"),),
            )
        except grpc.aio.AioRpcError as exc:
            world.problems.append(
                f"UpdateDetectorConfig for {org_key}'s camera: {exc.code().name} {exc.details()}"
            )
