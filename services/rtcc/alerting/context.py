"""Gathering an alert's context from the other services (registry, analytics) and the
alert store, then ranking it with the pure ``correlation`` module.

Cameras come from the registry's geo search (as the service), kept when the alert's
organisation may see them (the shared access cache, asked on behalf of that
organisation). Plate reads come from analytics' event search (plate-read events in the
circle and window), history from the alert store. What is kept with the alert is what
its organisation may see; a viewer's GetAlertContext is filtered again for the viewer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rtcc.alerting import correlation as corr
from rtcc.alerting.store import AlertStore
from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.clients import Clients, What
from rtcc.core.auth import Principal
from rtcc.core.errors import RtccError

PLATE_READ_EVENT = apb.EVENT_TYPE_PLATE_READ
MAX_READS = 100


def org_member(org_id: str) -> Principal:
    """Alerting asking the access policy on behalf of an organisation's operators."""
    return Principal("service:alerting", org_id, frozenset({"operator"}))


@dataclass
class Gathered:
    cameras: list[corr.RankedCamera] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    prior_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self, at: dt.datetime) -> dict[str, Any]:
        """Stored in the alert's ``correlation`` column."""
        return {
            "cameras": [camera_json(r) for r in self.cameras],
            "reads": self.reads,
            "prior_alert_ids": self.prior_ids,
            "correlate_time": at.isoformat(),
            "errors": self.errors,
        }


def camera_json(ranked: corr.RankedCamera) -> dict[str, Any]:
    c = ranked.camera
    return {
        "camera_id": c.camera_id,
        "display_name": c.display_name,
        "latitude": c.latitude,
        "longitude": c.longitude,
        "distance_m": round(c.distance_m, 1),
        "bearing_deg": round(c.bearing_deg, 1),
        "in_view": c.in_view,
        "heading_deg": c.heading_deg,
        "angle_deg": c.angle_deg,
        "range_m": c.range_m,
        "rank": ranked.rank,
        "reason": ranked.reason,
        "live_url": ranked.live_url,
        "recording_url": ranked.recording_url,
    }


class Correlator:
    def __init__(self, clients: Clients, store: AlertStore) -> None:
        self.clients = clients
        self.store = store

    async def gather(
        self,
        org_id: str,
        alert_id: str,
        lat: float,
        lon: float,
        at: dt.datetime,
        policy: corr.Policy,
    ) -> Gathered:
        near, prior = await asyncio.gather(
            self._cameras_and_reads(org_id, lat, lon, at, policy),
            self.store.near(
                org_id, lat, lon, policy.radius_m, at - policy.history, at, exclude=alert_id
            ),
            return_exceptions=True,
        )
        out = Gathered()
        cameras: Any
        reads: Any
        if isinstance(near, BaseException):
            cameras = reads = near
        else:
            cameras, reads = near
        if isinstance(cameras, BaseException):
            out.errors.append(f"cameras: {cameras}")
        else:
            out.cameras = corr.rank_cameras(cameras, at, limit=policy.max_cameras)
        if isinstance(reads, BaseException):
            out.errors.append(f"plate reads: {reads}")
        else:
            owned = {c.camera.camera_id for c in out.cameras if c.camera.owned}
            out.reads = await self._visible_reads(org_id, reads, owned)
        if isinstance(prior, BaseException):
            out.errors.append(f"history: {prior}")
        else:
            out.prior_ids = [a.id for a in prior]
        return out

    async def _cameras(
        self, org_id: str, lat: float, lon: float, policy: corr.Policy
    ) -> list[corr.CameraCandidate]:
        found = await self.clients.registry.search_nearby(lat, lon, policy.radius_m, limit=1000)
        member = org_member(org_id)
        # The organisation's own cameras need no question; shared ones ask the policy.
        foreign = [n.camera.id for n in found if n.camera.organization_id != org_id]
        decisions = await asyncio.gather(
            *(self.clients.access.decide(member, cid, What.METADATA) for cid in foreign)
        )
        allowed = {cid for cid, d in zip(foreign, decisions, strict=True) if d.allowed}
        out = []
        for near in found:
            if near.camera.organization_id != org_id and near.camera.id not in allowed:
                continue
            cam, fov = near.camera, near.camera.field_of_view
            out.append(
                corr.CameraCandidate(
                    cam.id,
                    cam.display_name,
                    cam.location.latitude,
                    cam.location.longitude,
                    near.distance_meters,
                    near.bearing_degrees,
                    near.in_field_of_view,
                    fov.heading_degrees,
                    fov.angle_degrees,
                    fov.range_meters,
                    owned=cam.organization_id == org_id,
                )
            )
        return out

    async def _cameras_and_reads(
        self, org_id: str, lat: float, lon: float, at: dt.datetime, policy: corr.Policy
    ) -> tuple[list[corr.CameraCandidate], list[dict[str, Any]] | BaseException]:
        """The visible cameras in the circle, then the plate reads those cameras made in
        the window (asked by camera ids: analytics need not ask the registry again)."""
        cameras = await self._cameras(org_id, lat, lon, policy)
        if not cameras:
            return cameras, []
        try:
            return cameras, await self._reads([c.camera_id for c in cameras], at, policy)
        except RtccError as exc:
            return cameras, exc

    async def _reads(
        self, camera_ids: list[str], at: dt.datetime, policy: corr.Policy
    ) -> list[dict[str, Any]]:
        request = apb.SearchEventsRequest(
            types=[PLATE_READ_EVENT], camera_ids=camera_ids, page_size=MAX_READS
        )
        request.time_range.start_time.FromDatetime(at - policy.window)
        request.time_range.end_time.FromDatetime(at + policy.window)
        response = await self.clients.analytics.search_events(request)
        return [
            {
                "event_id": e.id,
                "plate_read_id": e.plate_read_id,
                "camera_id": e.camera_id,
                "org": e.organization_id,
                "time": e.event_time.ToDatetime(dt.UTC).isoformat(),
            }
            for e in response.events
            if e.plate_read_id
        ]

    async def _visible_reads(
        self, org_id: str, reads: list[dict[str, Any]], owned: set[str]
    ) -> list[dict[str, Any]]:
        """Reads of the organisation's own cameras, and of cameras whose analytics it may
        see (asked of the shared policy)."""
        owned = owned | {r["camera_id"] for r in reads if r.get("org") == org_id}
        member = org_member(org_id)
        cameras = sorted({r["camera_id"] for r in reads} - owned)
        try:
            decisions = await asyncio.gather(
                *(self.clients.access.decide(member, c, What.ANALYTICS) for c in cameras)
            )
        except RtccError:
            return []
        allowed = owned | {c for c, d in zip(cameras, decisions, strict=True) if d.allowed}
        return [r for r in reads if r["camera_id"] in allowed]
