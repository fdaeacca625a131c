"""Which cameras a caller may see, asked of the registry with the caller's own token.

The registry owns sharing agreements; analytics never re-implements them. A user's
visible cameras are the registry's ``ListCameras`` answered for that user (their
bearer token is forwarded), cached briefly per token; an area is the registry's
``SearchCamerasNearby`` for that user. Services see every camera (None).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import grpc

from rtcc.core.auth import Principal
from rtcc.core.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable

CACHE_SECONDS = 10.0
_PAGE = 1000


def bearer(context: Any) -> str:
    """The caller's bearer token, forwarded so the registry answers for the caller."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and str(value).lower().startswith("bearer "):
            return str(value)[7:]
    return ""


class CameraAccess(Protocol):
    async def visible(self, principal: Principal, bearer: str) -> frozenset[str] | None:
        """Cameras the caller may see; None when unrestricted."""
        ...

    async def within(
        self, principal: Principal, bearer: str, lat: float, lng: float, radius_m: float
    ) -> frozenset[str]:
        """Visible cameras located within the circle."""
        ...

    async def owner(self, principal: Principal, bearer: str, camera_id: str) -> str:
        """The organisation owning a camera the caller may see (NotFound otherwise)."""
        ...


class RegistryCameraAccess:
    """CameraAccess over the registry's gRPC API."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel]) -> None:
        self._channel = channel
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    def _stub(self) -> Any:
        from rtcc.registry.v1 import registry_pb2_grpc

        return registry_pb2_grpc.RegistryServiceStub(self._channel())

    async def visible(self, principal: Principal, bearer: str) -> frozenset[str] | None:
        if principal.is_service():
            return None
        now = time.monotonic()
        cached = self._cache.get(bearer)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        from rtcc.registry.v1 import registry_pb2

        cameras: set[str] = set()
        token = ""
        while True:
            request = registry_pb2.ListCamerasRequest(page_size=_PAGE, page_token=token)
            response = await self._call("ListCameras", request, bearer)
            cameras.update(c.id for c in response.cameras)
            token = response.next_page_token
            if not token:
                break
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[bearer] = (now, frozenset(cameras))
        return self._cache[bearer][1]

    async def within(
        self, principal: Principal, bearer: str, lat: float, lng: float, radius_m: float
    ) -> frozenset[str]:
        from rtcc.common.v1 import common_pb2
        from rtcc.registry.v1 import registry_pb2

        request = registry_pb2.SearchCamerasNearbyRequest(
            location=common_pb2.LatLng(latitude=lat, longitude=lng),
            radius_meters=radius_m,
            max_results=1000,
        )
        response = await self._call("SearchCamerasNearby", request, bearer)
        return frozenset(r.camera.id for r in response.results)

    async def owner(self, principal: Principal, bearer: str, camera_id: str) -> str:
        from rtcc.registry.v1 import registry_pb2

        request = registry_pb2.GetCameraRequest(camera_id=camera_id)
        response = await self._call("GetCamera", request, bearer)
        return str(response.camera.organization_id)

    async def _call(self, method: str, request: Any, bearer: str) -> Any:
        metadata = (("authorization", f"Bearer {bearer}"),) if bearer else ()
        try:
            return await getattr(self._stub(), method)(request, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(f"registry: {exc.details()}") from None
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"registry: {exc.details()}") from None
            if exc.code() is grpc.StatusCode.PERMISSION_DENIED:
                raise PermissionDenied(f"registry: {exc.details()}") from None
            raise Unavailable(
                f"the registry could not say which cameras you may see: {exc.details()}"
            ) from None
