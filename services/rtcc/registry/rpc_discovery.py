"""RegistryService RPCs that find cameras: geo search and the change stream."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from rtcc.clients.streams import require_unexpired
from rtcc.core.auth import current_principal
from rtcc.core.errors import InvalidArgument
from rtcc.registry import validation
from rtcc.registry.change_log import Change
from rtcc.registry.context import CallerView, RegistryContext, SearchQuery
from rtcc.registry.v1 import registry_pb2 as pb

MAX_RADIUS_M = 50_000.0
MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
# Watchers re-read the feed at least this often even without a wake-up.
# Longest wait for a change before the watcher's token is checked again.
WATCH_MAX_WAIT_S = 2.0
WATCH_BATCH = 500


class DiscoveryRpcs:
    ctx: RegistryContext

    async def SearchCamerasNearby(
        self, request: pb.SearchCamerasNearbyRequest, context: Any
    ) -> pb.SearchCamerasNearbyResponse:
        principal = current_principal()
        if not request.HasField("location"):
            raise InvalidArgument("location is required", field="location")
        validation.lat_lng(request.location, "location")
        radius = request.radius_meters
        if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_M):
            raise InvalidArgument(
                f"radius_meters must be more than 0 up to {MAX_RADIUS_M:g}, got {radius}",
                field="radius_meters",
            )
        if not 0 <= request.max_results <= MAX_RESULTS:
            raise InvalidArgument(f"max_results must be 0 to {MAX_RESULTS}", field="max_results")
        query = SearchQuery(
            request.location.latitude,
            request.location.longitude,
            radius,
            request.facing_only,
            request.max_results or DEFAULT_RESULTS,
        )
        async with self.ctx.db.transaction(readonly=True) as conn:
            view = await self.ctx.view(conn, principal)
            found = await self.ctx.search(conn, view, query)
        results = [
            pb.NearbyCamera(
                camera=camera,
                distance_meters=hit.distance_m,
                in_field_of_view=hit.in_view,
                bearing_degrees=hit.bearing_deg,
            )
            for hit, camera in found
        ]
        return pb.SearchCamerasNearbyResponse(results=results)

    async def WatchCameras(
        self, request: pb.WatchCamerasRequest, context: Any
    ) -> AsyncIterator[pb.WatchCamerasResponse]:
        principal = current_principal()
        feed = self.ctx.feed
        cursor = await feed.start_point(request.start_revision)
        while True:
            require_unexpired(principal)  # a watch outliving its token ends UNAUTHENTICATED
            known = feed.signal.latest
            batch = await feed.read(cursor, WATCH_BATCH)
            if not batch:
                # Every revision up to `known` has committed: the ones without a change
                # row (organisation edits) can be skipped, or the wait would spin.
                cursor = max(cursor, known)
                await feed.signal.wait_beyond(cursor, WATCH_MAX_WAIT_S)
                continue
            async with self.ctx.db.transaction(readonly=True) as conn:
                view = await self.ctx.view(conn, principal)
                memberships = await self._memberships(conn, view, batch)
            for change in batch:
                message = self._message(view, memberships, change)
                if message is not None:
                    yield message
            cursor = batch[-1].revision

    async def _memberships(
        self, conn: Any, view: CallerView, batch: Sequence[Change]
    ) -> dict[str, set[str]]:
        pairs = [(c.camera_id, c.organization_id) for c in batch if c.camera_id]
        return await self.ctx.memberships(conn, view, pairs)

    def _message(
        self, view: CallerView, memberships: dict[str, set[str]], change: Change
    ) -> pb.WatchCamerasResponse | None:
        """The change as this watcher may see it, or None when it is not theirs to see."""
        out = pb.WatchCamerasResponse(
            revision=change.revision,
            type=change.change_type,  # type: ignore[arg-type]
            camera_id=change.camera_id or "",
            organization_id=change.organization_id,
        )
        out.change_time.FromDatetime(change.change_time)
        if change.change_type == pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED:
            parties = (change.organization_id, change.grantee_org_id)
            if not view.visibility.everything and view.principal.org_id not in parties:
                return None
            out.grant.ParseFromString(change.payload or b"")
            return out
        assert change.camera_id is not None
        decision = view.decide(change.camera_id, change.organization_id, memberships)
        if not view.sees(decision):
            return None
        if change.payload:
            out.camera.ParseFromString(change.payload)
            if not decision.owner and not view.visibility.everything:
                out.camera.streams.Clear()
        return out
