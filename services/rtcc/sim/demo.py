"""Demo cameras for `rtcc serve --demo-cameras N` (what `make run` starts).

Simulated cameras are served by the simulator's real RTSP server and registered, through
the registry's gRPC API, to a demo police department. Registering again after a restart
finds them there (same external ids) and leaves them as they are.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from rtcc.core.clients import open_channel
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras
from rtcc.sim.simulator import Simulator

DEMO_ORG_ID = "org_demopd"


async def start_demo(
    grpc_address: str, admin_token: str, cameras: int, cache_dir: Path, rtsp_port: int = 8554
) -> Simulator:
    """Start `cameras` simulated cameras and register them; the caller stops the simulator."""
    simulator = Simulator(cameras, cache_dir, port=rtsp_port)
    await simulator.start()
    try:
        async with open_channel(grpc_address, lambda: admin_token) as channel:
            await _ensure_demo_org(channel)
            for camera in simulator.cameras:
                try:
                    await register_cameras(channel, [camera], organization_id=DEMO_ORG_ID)
                except grpc.aio.AioRpcError as err:
                    if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                        raise
    except BaseException:
        await simulator.stop()
        raise
    return simulator


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
