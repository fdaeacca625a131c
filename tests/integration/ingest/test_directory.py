"""The cameras to record follow the registry's WatchCameras stream, not a poll."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import field_mask_pb2

from rtcc.core.auth import PLATFORM_ORG
from rtcc.ingest.directory import RegistryDirectory
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras


async def test_camera_changes_arrive_through_the_watch_without_listing_again(
    platform_factory: Any, simulator: Any, wait_for: Any
) -> None:
    async with platform_factory(targets=["registry"]) as p:
        admin = p.token(PLATFORM_ORG, ["platform-admin"])
        channel = p.channel(admin)
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        org = await registry.CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=registry_pb2.Organization(
                    display_name="Metro PD", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                )
            )
        )
        org_id = org.organization.id
        kept, deleted = await register_cameras(
            channel, simulator.cameras[:2], organization_id=org_id
        )
        runtime = p.platform.runtime
        directory = RegistryDirectory(
            lambda: runtime.channel("registry", as_service="ingest"), resync_s=600
        )
        stop = asyncio.Event()
        follower = asyncio.create_task(directory.watch(stop))
        try:
            await wait_for(lambda: directory.following, within_s=10, what="the watch open")
            assert {c.camera_id for c in await directory.cameras()} == {kept, deleted}
            lists = directory.full_lists

            camera = registry_pb2.Camera(
                id=kept,
                tags=["simulated", "rtsp-udp"],
                recording_policy=registry_pb2.RecordingPolicy(
                    mode=registry_pb2.RECORDING_MODE_EVENT_ONLY, retention_days=7
                ),
            )
            await registry.UpdateCamera(
                registry_pb2.UpdateCameraRequest(
                    camera=camera,
                    update_mask=field_mask_pb2.FieldMask(paths=["tags", "recording_policy"]),
                )
            )
            await registry.DeleteCamera(registry_pb2.DeleteCameraRequest(camera_id=deleted))
            (added,) = await register_cameras(
                channel, simulator.cameras[2:3], organization_id=org_id
            )

            async def followed() -> bool:
                cameras = {c.camera_id: c for c in await directory.cameras()}
                return set(cameras) == {kept, added} and cameras[kept].event_only

            await wait_for(followed, within_s=10, what="the changes followed")
            source = {c.camera_id: c for c in await directory.cameras()}[kept]
            assert (source.transport, source.retention_days) == ("udp", 7)
            assert source.url.startswith("rtsp://")
            assert directory.full_lists == lists, "changes came from the watch, not a listing"
            assert directory.changes_applied >= 3
            assert directory.changed.is_set(), "the lease loop is woken"
        finally:
            stop.set()
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            await channel.close()


async def test_full_resync_runs_as_a_safety_net_while_following(
    platform_factory: Any, wait_for: Any
) -> None:
    async with platform_factory(targets=["registry"]) as p:
        runtime = p.platform.runtime
        directory = RegistryDirectory(
            lambda: runtime.channel("registry", as_service="ingest"), resync_s=0.5
        )
        stop = asyncio.Event()
        follower = asyncio.create_task(directory.watch(stop))
        try:
            await wait_for(lambda: directory.full_lists >= 3, within_s=10, what="resyncs")
            await wait_for(lambda: directory.following, within_s=5, what="following again")
        finally:
            stop.set()
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
