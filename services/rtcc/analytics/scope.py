"""Which cameras' analytics a caller may see: the platform policy, through rtcc.clients.

Analytics results (events, plate reads, snapshots, face data) of a camera are shown to
its owner and to organisations whose grant has a window open now; a grantee outside
every window, and a platform admin of another organisation, get none (docs/access.md).
Detector configs and statuses follow the same rule, except that platform admins, who
administer detectors, see every camera's. ``None`` means every camera (services).
"""

from __future__ import annotations

from rtcc.clients import AccessDecisions, Caller, RegistryClient, What
from rtcc.core.errors import InvalidArgument


class CameraScope:
    def __init__(self, access: AccessDecisions, registry: RegistryClient) -> None:
        self.access = access
        self.registry = registry

    async def results(self, caller: Caller, area: object = None) -> frozenset[str] | None:
        """Cameras whose results the caller may see now, within ``area`` when set."""
        allowed = await self.access.allowed_cameras(caller, What.ANALYTICS)
        if area is None:
            return allowed
        radius = getattr(area, "radius_meters", 0.0)
        if radius <= 0:
            if getattr(area, "HasField", lambda _: False)("center"):
                raise InvalidArgument("area.radius_meters must be greater than zero", field="area")
            return allowed
        center = area.center  # type: ignore[attr-defined]
        near = await self.registry.search_nearby(
            center.latitude, center.longitude, radius, caller=caller
        )
        found = frozenset(n.camera.id for n in near)
        return found if allowed is None else allowed & found

    async def configs(self, caller: Caller) -> frozenset[str] | None:
        """Cameras whose detector configs and status the caller may read."""
        principal = caller.principal
        if principal is not None and principal.has_any_role("platform-admin"):
            return await self.access.allowed_cameras(caller, What.METADATA)
        return await self.access.allowed_cameras(caller, What.ANALYTICS)

    async def knows(self, caller: Caller, camera_id: str) -> bool:
        """Whether the caller may know the camera exists (its registry metadata)."""
        if caller.principal is None:
            return True
        decision = await self.access.decide(caller.principal, camera_id, What.METADATA)
        return decision.allowed

    async def owner(self, caller: Caller, camera_id: str) -> str:
        """The organisation owning a camera the caller may see (NotFound otherwise)."""
        camera = await self.registry.get_camera(camera_id, caller=caller)
        return str(camera.organization_id)
