"""Demo cameras for `rtcc serve --demo-cameras N` (what `make run` starts).

Simulated cameras are served by the simulator's real RTSP server and registered, through
the registry's gRPC API, to a demo police department, with analytics turned on: people,
vehicles, plates and faces, and a restricted zone. Their footage is natural (people
walking on a campus road, :mod:`rtcc.sim.street`) with a composed van whose plate the
real OCR reads; without the footage installed, the scripted scenes are used and the log
says how to install it. Registering again after a restart finds the cameras there (same
external ids) and leaves them as they are; the analytics configuration is set again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import structlog

from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.analytics.v1 import analytics_pb2_grpc
from rtcc.common.v1 import common_pb2
from rtcc.core.clients import open_channel
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras
from rtcc.sim.render import RenderedScene
from rtcc.sim.simulator import Simulator

log = structlog.get_logger("rtcc.sim.demo")

DEMO_ORG_ID = "org_demopd"
# What people call the demo cameras (index -> name).
DEMO_NAMES = {
    0: "Campus Rd at Library", 1: "Campus Rd east", 2: "Library car park",
    3: "Science Building", 4: "North Gate", 5: "South Gate", 6: "Bus Stop",
    7: "Sports Hall",
}  # fmt: skip
# Analysis rate per camera: on a 2-core machine, 2 fps keeps four cameras well within it.
DEMO_FPS = 2.0


def street_renderer() -> Callable[[Path, int], RenderedScene] | None:
    """The natural-footage renderer when its footage is installed, else None."""
    from rtcc.sim.footage import FootageMissing, locate_footage
    from rtcc.sim.street import render_street

    try:
        locate_footage()
    except FootageMissing as exc:
        log.warning("demo_footage_missing", hint=str(exc))
        return None
    return render_street


def detector_config(camera_id: str, natural: bool) -> apb.DetectorConfig:
    """People, vehicles, plates and faces, with a restricted zone, for one demo camera."""
    if natural:
        from rtcc.sim.street import RESTRICTED_ZONE

        points = RESTRICTED_ZONE
    else:  # the scripted scenes' zone box (scene.py: 900,250 300x260 of 1280x720)
        points = ((0.70, 0.35), (0.94, 0.35), (0.94, 0.71), (0.70, 0.71))
    zone = apb.Zone(
        display_name="Restricted area",
        polygon=common_pb2.ImagePolygon(
            vertices=[common_pb2.ImagePoint(x=x, y=y) for x, y in points]
        ),
        classes=[apb.OBJECT_CLASS_PERSON],
    )
    return apb.DetectorConfig(
        camera_id=camera_id,
        enabled=True,
        detectors=[
            apb.DETECTOR_TYPE_OBJECT,
            apb.DETECTOR_TYPE_LICENSE_PLATE,
            apb.DETECTOR_TYPE_FACE,
        ],
        fps=DEMO_FPS,
        zones=[zone],
    )


async def start_demo(
    grpc_address: str,
    admin_token: str,
    cameras: int,
    cache_dir: Path,
    rtsp_port: int = 8554,
    *,
    analytics: bool = True,
) -> Simulator:
    """Start `cameras` simulated cameras, register them and turn analytics on.

    The caller stops the simulator. `analytics=False` leaves analytics off (benchmarks
    of video alone).
    """
    renderer = street_renderer()
    simulator = Simulator(cameras, cache_dir, port=rtsp_port, renderer=renderer)
    await simulator.start()
    try:
        async with open_channel(grpc_address, lambda: admin_token) as channel:
            await _ensure_demo_org(channel)
            for camera in simulator.cameras:
                try:
                    await register_cameras(
                        channel, [camera], organization_id=DEMO_ORG_ID, display_names=DEMO_NAMES
                    )
                except grpc.aio.AioRpcError as err:
                    if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                        raise
            if analytics:
                ids = await demo_camera_ids(channel)
                await configure_analytics(channel, ids, natural=renderer is not None)
    except BaseException:
        await simulator.stop()
        raise
    return simulator


async def demo_camera_ids(channel: grpc.aio.Channel) -> list[str]:
    """The registry ids of the demo organisation's simulated cameras."""
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    ids, page = [], ""
    while True:
        response = await stub.ListCameras(
            registry_pb2.ListCamerasRequest(
                organization_id=DEMO_ORG_ID, tag="simulated", page_size=1000, page_token=page
            )
        )
        ids += [c.id for c in response.cameras]
        page = response.next_page_token
        if not page:
            return ids


async def configure_analytics(
    channel: grpc.aio.Channel, camera_ids: list[str], natural: bool
) -> None:
    """Turn analytics on for each camera; a platform without analytics is logged, not fatal."""
    stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
    for camera_id in camera_ids:
        request = apb.UpdateDetectorConfigRequest(
            detector_config=detector_config(camera_id, natural)
        )
        try:
            await stub.UpdateDetectorConfig(request, timeout=10)
        except grpc.aio.AioRpcError as err:
            log.warning("demo_analytics_not_configured", camera_id=camera_id, reason=err.details())
            return


async def _ensure_demo_org(channel: grpc.aio.Channel) -> None:
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    organization = registry_pb2.Organization(
        display_name="Demo City Police Department", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
    )
    try:
        await stub.CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=organization, organization_id=DEMO_ORG_ID
            )
        )
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
