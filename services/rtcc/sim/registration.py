"""Register simulated cameras in the registry through its gRPC API."""

from __future__ import annotations

import grpc

from rtcc.common.v1 import common_pb2
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.simulator import SimulatedCamera

# Where the simulated cameras stand: a block of downtown, one camera every ~50 m.
_BASE_LAT, _BASE_LNG = 40.7128, -74.0060


async def register_cameras(
    channel: grpc.aio.Channel,
    cameras: list[SimulatedCamera],
    *,
    organization_id: str = "",
    retention_days: int = 30,
    display_names: dict[int, str] | None = None,
) -> list[str]:
    """Create one registry camera per simulated camera; returns their ids in order.

    `display_names` maps a camera's index to the name people see (default
    "Simulated cam<i>").
    """
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    ids: list[str] = []
    names = display_names or {}
    for cam in cameras:
        camera = registry_pb2.Camera(
            organization_id=organization_id,
            display_name=names.get(cam.index, f"Simulated {cam.name}"),
            external_id=f"sim-{cam.name}",
            location=common_pb2.LatLng(
                latitude=_BASE_LAT + 0.00045 * cam.index, longitude=_BASE_LNG
            ),
            field_of_view=registry_pb2.FieldOfView(
                heading_degrees=90.0, angle_degrees=70.0, range_meters=60.0
            ),
            streams=registry_pb2.CameraStreams(main_url=cam.main_url, sub_url=cam.sub_url),
            vendor="OpenRTCC",
            model="simulator",
            tags=["simulated"],
            recording_policy=registry_pb2.RecordingPolicy(
                mode=registry_pb2.RECORDING_MODE_CONTINUOUS, retention_days=retention_days
            ),
        )
        response = await stub.CreateCamera(registry_pb2.CreateCameraRequest(camera=camera))
        ids.append(response.camera.id)
    return ids
