"""Detector configuration over gRPC: owners change it, viewers read it, etags protect it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc as pbg
from rtcc.backends.database import Database
from rtcc.common.v1 import common_pb2

from .test_search_api import _org_with_camera

SQUARE = common_pb2.ImagePolygon(
    vertices=[
        common_pb2.ImagePoint(x=x, y=y) for x, y in ((0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4))
    ]
)


async def _code(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_owner_configures_and_others_are_kept_out(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, cam_a = await _org_with_camera(p)
        org_b, _ = await _org_with_camera(p)
        owner = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["partner-admin"])))
        operator = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["operator"])))
        stranger = pbg.AnalyticsServiceStub(p.channel(p.token(org_b, ["partner-admin"])))

        default = await operator.GetDetectorConfig(pb.GetDetectorConfigRequest(camera_id=cam_a))
        assert not default.detector_config.enabled
        config = pb.DetectorConfig(
            camera_id=cam_a, enabled=True, fps=5, zones=[pb.Zone(polygon=SQUARE)]
        )
        saved = (
            await owner.UpdateDetectorConfig(pb.UpdateDetectorConfigRequest(detector_config=config))
        ).detector_config
        assert saved.etag and saved.zones[0].id.startswith("zon_")

        partial = pb.UpdateDetectorConfigRequest(
            detector_config=pb.DetectorConfig(camera_id=cam_a, fps=2, etag=saved.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["fps"]),
        )
        changed = (await owner.UpdateDetectorConfig(partial)).detector_config
        assert changed.fps == 2 and changed.enabled and len(changed.zones) == 1
        assert (
            await _code(owner.UpdateDetectorConfig(partial)) is grpc.StatusCode.FAILED_PRECONDITION
        )

        status = await operator.GetDetectorStatus(pb.GetDetectorStatusRequest(camera_id=cam_a))
        assert status.status.state == pb.DETECTOR_STATE_STARTING  # enabled, no replica yet
        statuses = await operator.ListDetectorStatuses(
            pb.ListDetectorStatusesRequest(states=[pb.DETECTOR_STATE_STARTING])
        )
        assert [s.camera_id for s in statuses.statuses] == [cam_a]
        listed = await operator.ListDetectorConfigs(
            pb.ListDetectorConfigsRequest(enabled_only=True)
        )
        assert [c.camera_id for c in listed.detector_configs] == [cam_a]
        assert (
            list(
                (
                    await stranger.ListDetectorConfigs(pb.ListDetectorConfigsRequest())
                ).detector_configs
            )
            == []
        )
        request = pb.UpdateDetectorConfigRequest(detector_config=pb.DetectorConfig(camera_id=cam_a))
        assert (
            await _code(operator.UpdateDetectorConfig(request)) is grpc.StatusCode.PERMISSION_DENIED
        )
        assert await _code(stranger.UpdateDetectorConfig(request)) is grpc.StatusCode.NOT_FOUND
        assert (
            await _code(stranger.GetDetectorConfig(pb.GetDetectorConfigRequest(camera_id=cam_a)))
            is grpc.StatusCode.NOT_FOUND
        )
        outside = pb.DetectorConfig(
            camera_id=cam_a,
            exclusions=[common_pb2.ImagePolygon(vertices=[common_pb2.ImagePoint(x=2, y=2)] * 3)],
        )
        bad = pb.UpdateDetectorConfigRequest(detector_config=outside)
        assert await _code(owner.UpdateDetectorConfig(bad)) is grpc.StatusCode.INVALID_ARGUMENT
