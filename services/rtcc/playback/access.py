"""What the registry says a viewer may see: camera access checks and camera lists."""

from __future__ import annotations

from typing import Any, Literal, Protocol

import grpc

from rtcc.core.auth import Principal
from rtcc.core.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

Scope = Literal["live", "recorded"]
# A privacy mask: a polygon of (x, y) vertices in normalised image coordinates.
Polygon = list[tuple[float, float]]
_SCOPES = {"live": registry_pb2.ACCESS_SCOPE_LIVE, "recorded": registry_pb2.ACCESS_SCOPE_RECORDED}


class AccessChecker(Protocol):
    async def check(self, principal: Principal, camera_id: str, scope: Scope) -> None:
        """Return when the principal's organisation may see the camera that way now."""
        ...

    async def privacy_masks(self, camera_id: str) -> list[Polygon]:
        """The camera's privacy masks (empty: none)."""
        ...


def _translate(exc: grpc.aio.AioRpcError, camera_id: str) -> Exception:
    code = exc.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(f"camera {camera_id} does not exist or is not shared with you")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(exc.details() or "bad camera id", field="camera_id")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDenied(exc.details() or "not allowed")
    return Unavailable(f"the registry cannot answer now: {code.name}")


class RegistryAccess:
    """Access decisions and camera lists from the registry's gRPC API."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = registry_pb2_grpc.RegistryServiceStub(channel)

    async def check(self, principal: Principal, camera_id: str, scope: Scope) -> None:
        request = registry_pb2.CheckCameraAccessRequest(
            camera_id=camera_id, scope=_SCOPES[scope], organization_id=principal.org_id
        )
        try:
            response = await self._stub.CheckCameraAccess(request, timeout=5)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, camera_id) from None
        if not response.allowed:
            raise PermissionDenied(
                f"your organisation may not view camera {camera_id} {scope}: {response.reason}"
            )

    async def privacy_masks(self, camera_id: str) -> list[Polygon]:
        """The camera's privacy masks, which every viewer's video must black out."""
        request = registry_pb2.GetCameraRequest(camera_id=camera_id)
        try:
            response = await self._stub.GetCamera(request, timeout=5)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, camera_id) from None
        return [[(v.x, v.y) for v in mask.vertices] for mask in response.camera.privacy_masks]

    async def list_cameras(self, token: str) -> list[dict[str, Any]]:
        """The cameras the token's holder may see, as the console's JSON."""
        metadata = (("authorization", f"Bearer {token}"),)
        cameras: list[dict[str, Any]] = []
        page = ""
        while True:
            request = registry_pb2.ListCamerasRequest(page_size=1000, page_token=page)
            try:
                response = await self._stub.ListCameras(request, metadata=metadata, timeout=5)
            except grpc.aio.AioRpcError as exc:
                raise _translate(exc, "") from None
            cameras.extend(camera_json(c) for c in response.cameras)
            page = response.next_page_token
            if not page:
                return cameras


def camera_json(camera: registry_pb2.Camera) -> dict[str, Any]:
    access = camera.caller_access
    return {
        "id": camera.id,
        "name": camera.display_name,
        "organization_id": camera.organization_id,
        "lat": camera.location.latitude,
        "lng": camera.location.longitude,
        "heading": camera.field_of_view.heading_degrees,
        "angle": camera.field_of_view.angle_degrees,
        "status": registry_pb2.CameraStatus.Name(camera.health.status),
        "live": access.owner or access.live,
        "recorded": access.owner or access.recorded,
        "tags": list(camera.tags),
    }
