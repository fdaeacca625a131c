"""The typed client of RegistryService: the only way services talk to the registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime

from rtcc.clients.base import CallPolicy, ChannelFactory, ServiceClient
from rtcc.clients.caller import Caller
from rtcc.common import time as wire_time
from rtcc.common.v1 import common_pb2
from rtcc.registry.v1 import registry_pb2 as pb
from rtcc.registry.v1 import registry_pb2_grpc

_PAGE = 1000
_SCOPES: dict[int, int] = {
    pb.ACCESS_WHAT_LIVE_VIDEO: pb.ACCESS_SCOPE_LIVE,
    pb.ACCESS_WHAT_RECORDED_VIDEO: pb.ACCESS_SCOPE_RECORDED,
}


class RegistryClient(ServiceClient):
    """Camera reads, access checks, credentials and health reports, changes.

    Reads and checks are idempotent (retried); ``report_health`` is a write (not).
    ``caller`` forwards an end user's token where the registry must answer *for them*
    (camera listings); the service's own token is used otherwise.
    """

    service = "registry"

    def __init__(self, channel: ChannelFactory, policy: CallPolicy | None = None) -> None:
        super().__init__(channel, registry_pb2_grpc.RegistryServiceStub, policy)

    async def get_camera(self, camera_id: str, *, caller: Caller | None = None) -> pb.Camera:
        request = pb.GetCameraRequest(camera_id=camera_id)
        response = await self.unary("GetCamera", request, caller=caller, idempotent=True)
        return response.camera  # type: ignore[no-any-return]

    async def list_camera_pages(
        self, *, caller: Caller | None = None, organization_id: str = "", tag: str = ""
    ) -> AsyncIterator[pb.ListCamerasResponse]:
        """Every page of ``ListCameras`` (the first page's ``revision`` is the listing's)."""
        token = ""
        while True:
            request = pb.ListCamerasRequest(
                page_size=_PAGE, page_token=token, organization_id=organization_id, tag=tag
            )
            page = await self.unary("ListCameras", request, caller=caller, idempotent=True)
            yield page
            token = page.next_page_token
            if not token:
                return

    async def list_cameras(self, *, caller: Caller | None = None) -> list[pb.Camera]:
        """Every camera the caller may see."""
        return [c async for page in self.list_camera_pages(caller=caller) for c in page.cameras]

    async def search_nearby(
        self,
        latitude: float,
        longitude: float,
        radius_m: float,
        *,
        caller: Caller | None = None,
        limit: int = 1000,
    ) -> list[pb.NearbyCamera]:
        request = pb.SearchCamerasNearbyRequest(
            location=common_pb2.LatLng(latitude=latitude, longitude=longitude),
            radius_meters=radius_m,
            max_results=limit,
        )
        response = await self.unary("SearchCamerasNearby", request, caller=caller, idempotent=True)
        return list(response.results)

    async def check_access(
        self,
        camera_id: str,
        what: int,
        *,
        organization_id: str = "",
        roles: Iterable[str] = (),
        raw: bool = False,
        at: datetime | None = None,
    ) -> pb.CheckCameraAccessResponse:
        """The registry's decision (``pb.ACCESS_WHAT_*``), asked as this service on behalf
        of ``organization_id`` (a user of it holding ``roles``); empty: for the service."""
        request = pb.CheckCameraAccessRequest(
            camera_id=camera_id,
            # The older field too, for a registry that predates `what`.
            scope=_SCOPES.get(what, pb.ACCESS_SCOPE_UNSPECIFIED),  # type: ignore[arg-type]
            what=what,  # type: ignore[arg-type]
            organization_id=organization_id,
            roles=sorted(roles),
            raw=raw,
            time=wire_time.to_timestamp(at),
        )
        return await self.unary("CheckCameraAccess", request, idempotent=True)  # type: ignore[no-any-return]

    async def stream_credentials(self, camera_id: str) -> pb.GetCameraStreamCredentialsResponse:
        request = pb.GetCameraStreamCredentialsRequest(camera_id=camera_id)
        return await self.unary("GetCameraStreamCredentials", request, idempotent=True)  # type: ignore[no-any-return]

    async def report_health(
        self, reports: Sequence[pb.CameraHealthReport]
    ) -> pb.ReportCameraHealthResponse:
        request = pb.ReportCameraHealthRequest(reports=reports)
        return await self.unary("ReportCameraHealth", request, idempotent=False)  # type: ignore[no-any-return]

    def watch(
        self, start_revision: int = 0, *, caller: Caller | None = None
    ) -> AsyncIterator[pb.WatchCamerasResponse]:
        """Camera and access changes after ``start_revision`` (no deadline: long-lived)."""
        request = pb.WatchCamerasRequest(start_revision=start_revision)
        return self.stream("WatchCameras", request, caller=caller)
