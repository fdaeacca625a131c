"""Who may see which camera's video: the registry's sharing agreements decide."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from rtcc.core.auth import Principal
from rtcc.core.errors import PermissionDenied, Unavailable

_VIEWERS = ("operator", "investigator", "analyst", "partner-admin", "platform-admin")


class CameraAccess:
    """Checks a caller's right to a camera's live or recorded video."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel]) -> None:
        self._channel = channel

    async def require(self, principal: Principal, camera_id: str, *, recorded: bool) -> None:
        if principal.is_service() or principal.has_any_role("platform-admin"):
            return
        principal.require_any_role(*_VIEWERS)
        from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

        scope = registry_pb2.ACCESS_SCOPE_RECORDED if recorded else registry_pb2.ACCESS_SCOPE_LIVE
        try:
            stub = registry_pb2_grpc.RegistryServiceStub(self._channel())
            answer = await stub.CheckCameraAccess(
                registry_pb2.CheckCameraAccessRequest(
                    camera_id=camera_id, scope=scope, organization_id=principal.org_id
                ),
                timeout=5,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise PermissionDenied(f"camera {camera_id} is not visible to you") from None
            raise Unavailable(
                f"cannot check access to camera {camera_id}: {exc.details()}"
            ) from None
        if not answer.allowed:
            kind = "recorded" if recorded else "live"
            raise PermissionDenied(
                f"your organisation may not see {kind} video of camera {camera_id} "
                f"({answer.reason})"
            )


def require_operator(principal: Principal) -> None:
    """Lease and retention operations: the platform's own services and its admins."""
    if not (principal.is_service() or principal.has_any_role("platform-admin")):
        raise PermissionDenied("only platform services and platform admins may do this")
