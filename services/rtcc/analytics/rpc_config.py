"""Detector RPCs: configs (read by anyone who may see the camera, changed by its owner)
and status (reported by the replica running the camera)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rtcc.analytics import config as detector_config
from rtcc.analytics.config_store import DetectorConfigStore
from rtcc.analytics.queries import page_size
from rtcc.analytics.scope import CameraScope
from rtcc.analytics.status import DetectorStatusStore, to_message
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.clients import Caller
from rtcc.common import paging
from rtcc.core.auth import current_principal
from rtcc.core.errors import NotFound, PermissionDenied

ADMIN_ROLES = ("partner-admin", "platform-admin")


def _after(token: str) -> str:
    return paging.decode_token(token, "config", 1)[0] if token else ""


def _token(camera_id: str) -> str:
    return paging.encode_token("config", camera_id)


class DetectorConfigRpcs:
    configs: DetectorConfigStore
    statuses: DetectorStatusStore
    scope: CameraScope

    async def _visible(self, context: Any, camera_id: str) -> None:
        caller = Caller.of_call(context)
        allowed = await self.scope.configs(caller)
        if camera_id and (allowed is None or camera_id in allowed):
            return
        if camera_id and await self.scope.knows(caller, camera_id):
            raise PermissionDenied(
                f"your organisation may not see the detectors of camera {camera_id} now "
                "(its grant's window is closed, or you see its metadata only)"
            )
        raise NotFound(f"camera {camera_id!r} does not exist or is not visible to you")

    async def GetDetectorConfig(
        self, request: pb.GetDetectorConfigRequest, context: Any
    ) -> pb.GetDetectorConfigResponse:
        await self._visible(context, request.camera_id)
        found = await self.configs.get(request.camera_id)
        config = found or detector_config.default_config(request.camera_id)
        return pb.GetDetectorConfigResponse(detector_config=config)

    async def ListDetectorConfigs(
        self, request: pb.ListDetectorConfigsRequest, context: Any
    ) -> pb.ListDetectorConfigsResponse:
        allowed = await self.scope.configs(Caller.of_call(context))
        limit = page_size(request.page_size)
        after = _after(request.page_token)
        found = await self.configs.page(
            allowed, enabled_only=request.enabled_only, after=after, limit=limit + 1
        )
        token = ""
        if len(found) > limit:
            found = found[:limit]
            token = _token(found[-1].camera_id)
        return pb.ListDetectorConfigsResponse(detector_configs=found, next_page_token=token)

    async def UpdateDetectorConfig(
        self, request: pb.UpdateDetectorConfigRequest, context: Any
    ) -> pb.UpdateDetectorConfigResponse:
        principal = current_principal()
        principal.require_any_role(*ADMIN_ROLES)
        update = request.detector_config
        await self._visible(context, update.camera_id)
        owner = await self.scope.owner(Caller.of_call(context), update.camera_id)
        if owner != principal.org_id and not principal.has_any_role("platform-admin"):
            raise PermissionDenied(
                f"only the organisation owning {update.camera_id} may configure its detectors"
            )
        stored = await self.configs.get(update.camera_id)
        base = stored or detector_config.default_config(update.camera_id)
        paths = list(request.update_mask.paths) if request.HasField("update_mask") else []
        merged = detector_config.validate(detector_config.merge(base, update, paths))
        saved = await self.configs.put(merged, update.etag)
        return pb.UpdateDetectorConfigResponse(detector_config=saved)

    async def GetDetectorStatus(
        self, request: pb.GetDetectorStatusRequest, context: Any
    ) -> pb.GetDetectorStatusResponse:
        await self._visible(context, request.camera_id)
        config = await self.configs.get(request.camera_id)
        reports = await self.statuses.get_many([request.camera_id])
        enabled = config is not None and config.enabled
        message = to_message(
            reports.get(request.camera_id), request.camera_id, enabled, datetime.now(UTC)
        )
        return pb.GetDetectorStatusResponse(status=message)

    async def ListDetectorStatuses(
        self, request: pb.ListDetectorStatusesRequest, context: Any
    ) -> pb.ListDetectorStatusesResponse:
        """Statuses of the visible cameras that have a config; a page may hold fewer than
        page_size when a state filter is set."""
        allowed = await self.scope.configs(Caller.of_call(context))
        limit = page_size(request.page_size)
        after = _after(request.page_token)
        found = await self.configs.page(allowed, enabled_only=False, after=after, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        reports = await self.statuses.get_many([c.camera_id for c in found])
        now = datetime.now(UTC)
        statuses = [
            to_message(reports.get(c.camera_id), c.camera_id, c.enabled, now) for c in found
        ]
        if request.states:
            statuses = [s for s in statuses if s.state in request.states]
        token = _token(found[-1].camera_id) if more else ""
        return pb.ListDetectorStatusesResponse(statuses=statuses, next_page_token=token)
