"""What a viewer may see, by the platform's one policy (``rtcc.clients``).

Playback sends people masked video only (it applies the camera's privacy masks), so it
asks for non-raw video; the decision is cached process-wide and kept current by the
registry's watch stream, which is what makes the 2-second session re-check cheap.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from rtcc.clients import AccessDecisions, Caller, RegistryClient, What
from rtcc.core.auth import Principal
from rtcc.registry.v1 import registry_pb2

Scope = Literal["live", "recorded"]
# A privacy mask: a polygon of (x, y) vertices in normalised image coordinates.
Polygon = list[tuple[float, float]]
_WHAT = {"live": What.LIVE_VIDEO, "recorded": What.RECORDED_VIDEO}


class AccessChecker(Protocol):
    async def check(self, principal: Principal, camera_id: str, scope: Scope) -> None:
        """Return when the principal may see the camera that way now."""
        ...

    async def privacy_masks(self, camera_id: str) -> list[Polygon]:
        """The camera's privacy masks (empty: none)."""
        ...


class ViewerAccess:
    """Access decisions, privacy masks and camera lists for playback's viewers."""

    def __init__(self, access: AccessDecisions, registry: RegistryClient) -> None:
        self._access = access
        self._registry = registry

    async def check(self, principal: Principal, camera_id: str, scope: Scope) -> None:
        await self._access.require(principal, camera_id, _WHAT[scope])

    async def privacy_masks(self, camera_id: str) -> list[Polygon]:
        """The camera's privacy masks, which every viewer's video must black out."""
        camera = await self._registry.get_camera(camera_id)
        return [[(v.x, v.y) for v in mask.vertices] for mask in camera.privacy_masks]

    async def list_cameras(self, token: str) -> list[dict[str, Any]]:
        """The cameras the token's holder may see, as the console's JSON."""
        cameras = await self._registry.list_cameras(caller=Caller(None, token))
        return [camera_json(c) for c in cameras]


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
