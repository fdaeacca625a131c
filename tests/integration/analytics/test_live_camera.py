"""A simulated RTSP camera, end to end: registry -> ingest (one camera session) ->
analytics worker (lease, StreamFrames, pipeline) -> database and bus -> plate search.

Detection uses a stand-in that finds the simulator's flat rectangles against its
known background colour (YOLO rightly sees no COCO objects in them); the plate
reader is the real RapidOCR, on frames decoded by ingest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
import pytest_asyncio
from google.protobuf import timestamp_pb2

from rtcc.analytics.analysis import DetectorSet
from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame, ObjectClass
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc as pbg
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

BACKGROUND_BGR = np.array([0x3A, 0x5D, 0x4A], np.int16)  # the scene's 0x4a5d3a


class FlatSceneDetector:
    """Solid blobs unlike the scene's background colour; taller than wide is a person."""

    name = "flat-scene"

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        diff = np.abs(frame.astype(np.int16) - BACKGROUND_BGR).sum(axis=2)
        mask = ((diff > 90) * 255).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            solid = cv2.countNonZero(mask[y : y + h, x : x + w]) >= 0.7 * w * h
            if w * h < 150 or not solid or x <= 1 or x + w >= frame.shape[1] - 1:
                continue
            cls = ObjectClass.PERSON if h > w else ObjectClass.VEHICLE
            found.append(Detection(cls, 0.9, (x, y, x + w, y + h)))
        return found


@pytest_asyncio.fixture
async def simulator(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    from rtcc.sim.simulator import Simulator

    async with Simulator(1, tmp_path_factory.mktemp("sim"), scene_seconds=10.0) as sim:
        yield sim


async def test_plates_of_a_live_simulated_camera_become_searchable(
    platform_factory: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rtcc.analytics import service
    from rtcc.sim.registration import register_cameras

    monkeypatch.setattr(
        service,
        "build_detectors",
        lambda config, *_: DetectorSet(objects=FlatSceneDetector(), plates=PlateDetector()),
    )
    monkeypatch.setattr(
        service.AnalyticsWorker, "__init__", _fast_poll(service.AnalyticsWorker.__init__)
    )
    async with platform_factory(targets=["registry", "ingest", "analytics"]) as p:
        admin = p.token(PLATFORM_ORG, ["platform-admin"], subject="root@city")
        channel = open_channel(p.address, lambda: admin)
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        org = await registry.CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=registry_pb2.Organization(
                    display_name="Metro PD", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                )
            )
        )
        org_id = org.organization.id
        (camera_id,) = await register_cameras(
            channel, simulator.cameras[:1], organization_id=org_id
        )
        owner = pbg.AnalyticsServiceStub(p.channel(p.token(org_id, ["partner-admin"])))
        config = pb.DetectorConfig(
            camera_id=camera_id,
            enabled=True,
            fps=5,
            detectors=[pb.DETECTOR_TYPE_OBJECT, pb.DETECTOR_TYPE_LICENSE_PLATE],
        )
        await owner.UpdateDetectorConfig(pb.UpdateDetectorConfigRequest(detector_config=config))

        plates = {t["text"].replace(" ", "") for t in simulator.cameras[0].truth()["plates"]}
        investigator = pbg.AnalyticsServiceStub(p.channel(p.token(org_id, ["investigator"])))
        found: set[str] = set()
        deadline = time.monotonic() + 90
        while not plates <= found and time.monotonic() < deadline:
            await asyncio.sleep(2)
            for plate in plates - found:
                reply = await investigator.SearchPlateReads(
                    pb.SearchPlateReadsRequest(
                        query=plate, match_mode=pb.PLATE_MATCH_MODE_FUZZY, time_range=_last_hour()
                    )
                )
                if any(m.plate_read.camera_id == camera_id for m in reply.matches):
                    found.add(plate)
        status = await investigator.GetDetectorStatus(
            pb.GetDetectorStatusRequest(camera_id=camera_id)
        )
        await channel.close()
    assert plates <= found, f"found {found} of {plates}"
    assert status.status.state in (pb.DETECTOR_STATE_RUNNING, pb.DETECTOR_STATE_DEGRADED)
    assert status.status.processed_fps > 0 and status.status.replica_id


def _fast_poll(init: Any) -> Any:
    def wrapped(self: Any, **kwargs: Any) -> None:
        init(self, **{**kwargs, "poll_s": 0.5, "report_s": 1.0})

    return wrapped


def _last_hour() -> common_pb2.TimeRange:
    start = timestamp_pb2.Timestamp()
    start.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
    return common_pb2.TimeRange(start_time=start)
