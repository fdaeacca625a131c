"""The one access policy, enforced by ingest and analytics over real gRPC (both databases).

Each test closes one hole of issue 9: a grantee outside its window gets no events,
snapshots or stream health; platform admins get no video or results of others; people
get no raw video of a masked camera; event subscriptions end on revocation and on token
expiry; cached decisions follow grant changes at once (the watch stream, not the TTL).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import timestamp_pb2

from rtcc.analytics.records import EventRecord
from rtcc.analytics.sink import BUCKET
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.analytics.v1 import analytics_pb2_grpc as apbg
from rtcc.backends.audit import audit_log
from rtcc.backends.database import Database
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG
from rtcc.ingest.health import StreamHealth
from rtcc.ingest.status_store import StatusStore
from rtcc.ingest.v1 import ingest_pb2 as ipb
from rtcc.ingest.v1 import ingest_pb2_grpc as ipbg
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc as rpbg

NOW = datetime.now(UTC).replace(microsecond=0)
TARGETS = ["registry", "ingest", "analytics"]


def _ts(when: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def _day() -> common_pb2.TimeRange:
    return common_pb2.TimeRange(
        start_time=_ts(NOW - timedelta(hours=2)), end_time=_ts(NOW + timedelta(hours=1))
    )


def _window(open_now: bool) -> rpb.GrantSchedule:
    """A daily UTC window holding the present minute, or one that does not."""
    minute = datetime.now(UTC).hour * 60 + datetime.now(UTC).minute
    start = (minute - 60) % 1440 if open_now else (minute + 120) % 1440
    end = (start + 120) % 1440 if open_now else (start + 60) % 1440

    def tod(m: int) -> rpb.TimeOfDay:
        return rpb.TimeOfDay(hours=m // 60, minutes=m % 60)

    return rpb.GrantSchedule(
        time_zone="UTC", windows=[rpb.ScheduleWindow(start=tod(start), end=tod(end))]
    )


@dataclass
class World:
    p: Any
    owner: str
    camera: str
    masked: str
    inside: str  # grantee whose window is open now
    outside: str  # grantee whose only window is closed now
    stranger: str  # no grant at all
    grant_inside: str
    channels: dict[str, Any] = field(default_factory=dict)

    def _channel(self, token: str) -> Any:
        """One channel per token, kept referenced while the test runs."""
        if token not in self.channels:
            self.channels[token] = self.p.channel(token)
        return self.channels[token]

    def token(self, org: str, *roles: str, subject: str = "") -> str:
        return str(self.p.token(org, list(roles or ("operator",)), subject=subject or f"u@{org}"))

    def ingest(self, token: str) -> Any:
        return ipbg.IngestServiceStub(self._channel(token))

    def analytics(self, token: str) -> Any:
        return apbg.AnalyticsServiceStub(self._channel(token))

    def registry(self, token: str) -> Any:
        return rpbg.RegistryServiceStub(self._channel(token))


async def _org(admin: Any, name: str) -> str:
    org_id = f"org_{name}_{secrets.token_hex(3)}"
    await admin.CreateOrganization(
        rpb.CreateOrganizationRequest(
            organization=rpb.Organization(display_name=name, kind=rpb.ORGANIZATION_KIND_AGENCY),
            organization_id=org_id,
        )
    )
    return org_id


async def _world(p: Any, database: Database) -> World:
    admin = rpbg.RegistryServiceStub(p.channel(p.token(PLATFORM_ORG, ["platform-admin"])))
    owner, inside, outside, stranger = [
        await _org(admin, n) for n in ("shop", "pdin", "pdout", "elsewhere")
    ]
    shop = rpbg.RegistryServiceStub(p.channel(p.token(owner, ["partner-admin"])))
    where = {"latitude": 42.33, "longitude": -83.04}
    camera = (
        await shop.CreateCamera(
            rpb.CreateCameraRequest(camera=rpb.Camera(display_name="Door", location=where))
        )
    ).camera.id
    mask = common_pb2.ImagePolygon(
        vertices=[common_pb2.ImagePoint(x=x, y=y) for x, y in ((0, 0), (0.5, 0), (0.5, 1))]
    )
    masked = (
        await shop.CreateCamera(
            rpb.CreateCameraRequest(
                camera=rpb.Camera(display_name="Yard", location=where, privacy_masks=[mask])
            )
        )
    ).camera.id
    grants = []
    for grantee, open_now in ((inside, True), (outside, False)):
        grant = rpb.SharingGrant(
            grantee_organization_id=grantee,
            all_cameras=True,
            live=True,
            recorded=True,
            schedule=_window(open_now),
        )
        reply = await shop.CreateSharingGrant(rpb.CreateSharingGrantRequest(grant=grant))
        grants.append(reply.grant.id)
    return World(p, owner, camera, masked, inside, outside, stranger, grants[0])


async def _seed(world: World, database: Database) -> str:
    """One event with a snapshot, and a stream status row, for the world's camera."""
    event_id = f"evt_{secrets.token_hex(8)}"
    objects = world.p.platform.runtime.objects
    await objects.ensure_bucket(BUCKET)
    key = f"{world.camera}/{event_id}.jpg"
    await objects.put(BUCKET, key, b"\xff\xd8jpeg", content_type="image/jpeg")
    record = EventRecord(
        event_id, world.camera, world.owner, 1, 2, "1", 0.9, NOW - timedelta(minutes=5),
        NOW - timedelta(minutes=5), (0.1, 0.1, 0.3, 0.3), snapshot_key=key,
    )  # fmt: skip
    await AnalyticsStore(database).add_events([record])
    health = StreamHealth(2, 15.0, 1_000_000, True, "", None, NOW, NOW, 0, 100)
    await StatusStore(database).write("replica-test", [(world.camera, 1, health)], NOW)
    return event_id


async def _code(call: Any) -> grpc.StatusCode:
    try:
        result = call
        if hasattr(result, "__aiter__"):
            async for _ in result:
                break
        else:
            await result
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def _statuses(world: World, token: str) -> set[str]:
    reply = await world.ingest(token).ListStreamStatuses(ipb.ListStreamStatusesRequest())
    return {s.camera_id for s in reply.statuses}


async def test_a_grantee_outside_its_window_gets_no_events_snapshots_or_health(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=TARGETS, database=database) as p:
        world = await _world(p, database)
        event_id = await _seed(world, database)
        out = world.token(world.outside, "operator", "investigator", "analyst")
        analytics = world.analytics(out)
        searched = await analytics.SearchEvents(apb.SearchEventsRequest(time_range=_day()))
        assert list(searched.events) == []
        listed = await analytics.ListEvents(
            apb.ListEventsRequest(camera_ids=[world.camera], time_range=_day())
        )
        assert list(listed.events) == []
        for call in (
            analytics.GetEvent(apb.GetEventRequest(event_id=event_id)),
            analytics.GetSnapshotUrl(apb.GetSnapshotUrlRequest(event_id=event_id)),
        ):
            assert await _code(call) == grpc.StatusCode.NOT_FOUND
        assert await _statuses(world, out) == set()
        status = ipb.GetStreamStatusRequest(camera_id=world.camera)
        assert await _code(world.ingest(out).GetStreamStatus(status)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
        # Registry metadata stays visible: the camera is there, its window opens later.
        got = await world.registry(out).GetCamera(rpb.GetCameraRequest(camera_id=world.camera))
        assert got.camera.id == world.camera and not got.camera.caller_access.analytics

        inside = world.token(world.inside)
        found = await world.analytics(inside).SearchEvents(
            apb.SearchEventsRequest(time_range=_day())
        )
        assert [e.id for e in found.events] == [event_id]
        assert await _statuses(world, inside) == {world.camera}
        assert await _statuses(world, world.token(world.stranger)) == set()
        assert await _statuses(world, world.token(world.owner)) == {world.camera}

        async with database.transaction(readonly=True) as conn:
            rows = await conn.execute(
                sa.select(audit_log.c.action, audit_log.c.after).where(
                    audit_log.c.actor_org_id == world.outside
                )
            )
            denied = [(a, after) for a, after in rows if after and after["outcome"] == "denied"]
        reasons = {(a, d["reason"]) for a, d in denied}
        assert ("stream.health", "outside schedule") in reasons
        assert {"event.read", "snapshot.url"} <= {a for a, _ in denied}


async def test_a_watch_outliving_its_token_ends_unauthenticated(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry"], database=database) as p:
        short = p.platform.runtime.authority.mint(
            subject="tim@city", org_id=PLATFORM_ORG, roles=["operator"], ttl=timedelta(seconds=2)
        )
        channel = p.channel(short)
        watch = rpbg.RegistryServiceStub(channel).WatchCameras(rpb.WatchCamerasRequest())
        code, took = await _ended_within(watch, 10)
        assert code == grpc.StatusCode.UNAUTHENTICATED and took < 6
        await channel.close()


async def test_platform_admins_see_metadata_and_health_but_no_video_or_results(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=TARGETS, database=database) as p:
        world = await _world(p, database)
        event_id = await _seed(world, database)
        admin = world.token(PLATFORM_ORG, "platform-admin", subject="root@city")
        ingest = world.ingest(admin)
        segments = ipb.ListSegmentsRequest(
            camera_id=world.camera, time_range=common_pb2.TimeRange(start_time=_ts(NOW))
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ingest.ListSegments(segments)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "metadata only" in (refused.value.details() or "")
        packets = ingest.StreamPackets(ipb.StreamPacketsRequest(camera_id=world.camera))
        assert await _code(packets) == grpc.StatusCode.PERMISSION_DENIED
        searched = await world.analytics(admin).SearchEvents(
            apb.SearchEventsRequest(time_range=_day())
        )
        assert event_id not in {e.id for e in searched.events}
        assert world.camera in await _statuses(world, admin)


async def test_people_get_no_raw_video_of_a_masked_camera_but_services_do(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=TARGETS, database=database) as p:
        world = await _world(p, database)
        ingest = world.ingest(world.token(world.owner, "operator", "investigator"))
        span = common_pb2.TimeRange(start_time=_ts(NOW - timedelta(minutes=1)), end_time=_ts(NOW))
        for call in (
            ingest.StreamPackets(ipb.StreamPacketsRequest(camera_id=world.masked)),
            ingest.StreamFrames(ipb.StreamFramesRequest(camera_id=world.masked)),
            ingest.ReadRange(ipb.ReadRangeRequest(camera_id=world.masked, time_range=span)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                async for _ in call:
                    break
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "playback" in (refused.value.details() or "")
        # The unmasked camera passes the check (and then is simply not connected).
        unmasked = ingest.StreamPackets(ipb.StreamPacketsRequest(camera_id=world.camera))
        assert await _code(unmasked) == grpc.StatusCode.FAILED_PRECONDITION
        service = p.platform.runtime.service_token("playback")
        raw = world.ingest(service).StreamPackets(ipb.StreamPacketsRequest(camera_id=world.masked))
        assert await _code(raw) == grpc.StatusCode.FAILED_PRECONDITION


async def _ended_within(stream: Any, seconds: float) -> tuple[grpc.StatusCode, float]:
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async with asyncio.timeout(seconds):
            async for _ in stream:
                pass
    return ended.value.code(), time.monotonic() - started


async def test_an_event_subscription_ends_within_seconds_of_revocation_and_of_token_expiry(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    # A long cache TTL: only the registry's watch stream can make the revocation seen.
    settings = {"access": {"recheck_s": 0.5, "cache_ttl_s": 300}}
    async with platform_factory(targets=TARGETS, database=database, **settings) as p:
        world = await _world(p, database)
        event_id = await _seed(world, database)
        stream = world.analytics(world.token(world.inside)).SubscribeEvents(
            apb.SubscribeEventsRequest(
                camera_ids=[world.camera], start_time=_ts(NOW - timedelta(hours=1))
            )
        )
        first = await asyncio.wait_for(stream.read(), 10)  # the replay: the stream is open
        assert first.event.id == event_id and first.replayed
        shop = world.registry(world.token(world.owner, "partner-admin"))
        await shop.RevokeSharingGrant(
            rpb.RevokeSharingGrantRequest(grant_id=world.grant_inside, reason="test")
        )
        code, took = await _ended_within(stream, 8)
        assert code == grpc.StatusCode.PERMISSION_DENIED and took < 5

        short = p.platform.runtime.authority.mint(
            subject="tim@own", org_id=world.owner, roles=["operator"], ttl=timedelta(seconds=2)
        )
        expiring = world.analytics(short).SubscribeEvents(apb.SubscribeEventsRequest())
        code, _ = await _ended_within(expiring, 8)
        assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_cached_decisions_follow_a_grant_revocation_at_once(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    settings = {"access": {"cache_ttl_s": 300}}
    async with platform_factory(targets=TARGETS, database=database, **settings) as p:
        world = await _world(p, database)
        await _seed(world, database)
        ingest = world.ingest(world.token(world.inside))
        status = ipb.GetStreamStatusRequest(camera_id=world.camera)
        assert (await ingest.GetStreamStatus(status)).status.camera_id == world.camera
        shop = world.registry(world.token(world.owner, "partner-admin"))
        await shop.RevokeSharingGrant(
            rpb.RevokeSharingGrantRequest(grant_id=world.grant_inside, reason="test")
        )

        deadline = time.monotonic() + 5  # poll a condition with a deadline, far below the TTL
        code = grpc.StatusCode.OK
        while code != grpc.StatusCode.PERMISSION_DENIED and time.monotonic() < deadline:
            code = await _code(ingest.GetStreamStatus(status))
        assert code == grpc.StatusCode.PERMISSION_DENIED
