"""What every registry RPC works with: the stores, the change feed, the clock, and the
caller's view (which cameras it may see, and what it may do with each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.database import Database
from rtcc.core.auth import Principal
from rtcc.core.errors import NotFound
from rtcc.registry import access, convert, geo
from rtcc.registry.camera_queries import StoredCamera, stored_camera
from rtcc.registry.camera_store import CameraStore
from rtcc.registry.change_log import ChangeFeed
from rtcc.registry.grant_cache import GrantCache, GrantSet
from rtcc.registry.grant_store import GrantStore, narrow
from rtcc.registry.org_store import OrganizationStore
from rtcc.registry.v1 import registry_pb2 as pb


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CallerView:
    """Who is calling, when, and what their organisation has been granted."""

    principal: Principal
    now: datetime
    grants: GrantSet
    visibility: access.Visibility = field(init=False)

    def __post_init__(self) -> None:
        self.visibility = self.grants.visibility(self.principal)

    def decide(
        self, camera_id: str, owner_org_id: str, memberships: dict[str, set[str]]
    ) -> access.Access:
        if owner_org_id == self.principal.org_id:
            return access.OWNER_ACCESS
        granted = self.grants.by_grantor.get(owner_org_id)
        if not granted:
            return access.NO_ACCESS
        rules = narrow(granted, memberships, camera_id)
        return access.camera_access(self.principal.org_id, owner_org_id, camera_id, rules, self.now)

    def sees(self, camera_access: access.Access) -> bool:
        return self.visibility.everything or camera_access.visible

    def needs_membership(self, owner_org_id: str) -> bool:
        return owner_org_id in self.grants.named_grantors


@dataclass
class RegistryContext:
    """The registry's state, shared by its RPC groups."""

    db: Database
    feed: ChangeFeed
    cameras: CameraStore
    grants: GrantStore = field(default_factory=GrantStore)
    organizations: OrganizationStore = field(default_factory=OrganizationStore)
    clock: Callable[[], datetime] = utc_now
    grant_cache: GrantCache = field(init=False)

    def __post_init__(self) -> None:
        self.grant_cache = GrantCache(self.grants)

    async def view(self, conn: AsyncConnection, principal: Principal) -> CallerView:
        access.require_member(principal)
        now = self.clock()
        if principal.is_service():  # services see every camera and own none: no grants
            return CallerView(principal, now, GrantSet.of(principal.org_id, []))
        return CallerView(principal, now, await self.grant_cache.get(conn, principal.org_id, now))

    async def memberships(
        self, conn: AsyncConnection, view: CallerView, cameras: Iterable[tuple[str, str]]
    ) -> dict[str, set[str]]:
        """Named-grant memberships of the caller's organisation for (camera, owner) pairs."""
        return await self.memberships_of(conn, view.grants, cameras)

    async def memberships_of(
        self, conn: AsyncConnection, grants: GrantSet, cameras: Iterable[tuple[str, str]]
    ) -> dict[str, set[str]]:
        """Memberships from the cached grant set, or queried when it holds too many;
        only cameras of owners that granted cameras one by one are looked up."""
        ids = [camera_id for camera_id, owner in cameras if owner in grants.named_grantors]
        if not ids:
            return {}
        if grants.named_cameras is not None:
            return {i: grants.named_cameras[i] for i in ids if i in grants.named_cameras}
        return await self.grants.memberships(conn, grants.named_grant_ids, ids)

    async def present(
        self, conn: AsyncConnection, view: CallerView, stored: Sequence[StoredCamera]
    ) -> list[pb.Camera]:
        """The cameras the caller may see, annotated with its access and redacted."""
        pairs = [(s.camera.id, s.organization_id) for s in stored]
        return _annotate(view, stored, await self.memberships(conn, view, pairs))

    async def search(
        self, conn: AsyncConnection, view: CallerView, query: SearchQuery
    ) -> list[tuple[geo.Hit, pb.Camera]]:
        """Visible cameras within the radius, nearest first, as the caller sees them."""
        area = geo.search_area(query.latitude, query.longitude, query.radius_m)
        found = await self.cameras.near(conn, area, view.visibility, view.now)
        memberships = await self.memberships(conn, view, [(n.site.id, n.owner) for n in found])
        vis = view.visibility
        open_owners = vis.grantor_org_ids | {vis.org_id}
        sites = [
            n.site
            for n in found
            if vis.everything or n.owner in open_owners or n.site.id in memberships
        ]
        hits = geo.nearest(
            query.latitude,
            query.longitude,
            query.radius_m,
            sites,
            facing_only=query.facing_only,
            limit=query.limit,
        )
        rows = {n.site.id: n.row for n in found if n.row is not None}
        if rows:
            stored = {h.id: stored_camera(rows[h.id]) for h in hits}
        else:
            stored = await self.cameras.get_many(conn, [h.id for h in hits])
        shown = _annotate(view, [stored[h.id] for h in hits if h.id in stored], memberships)
        by_id = {c.id: c for c in shown}
        return [(h, by_id[h.id]) for h in hits if h.id in by_id]

    async def visible_camera(
        self, conn: AsyncConnection, view: CallerView, camera_id: str
    ) -> tuple[StoredCamera, pb.Camera]:
        """A camera the caller may see, or NotFound (whether or not it exists)."""
        stored = await self.cameras.get(conn, camera_id)
        shown = await self.present(conn, view, [stored]) if stored is not None else []
        if stored is None or not shown:
            raise NotFound(f"camera {camera_id} does not exist or is not shared with you")
        return stored, shown[0]


@dataclass(frozen=True)
class SearchQuery:
    latitude: float
    longitude: float
    radius_m: float
    facing_only: bool
    limit: int


def _annotate(
    view: CallerView, stored: Sequence[StoredCamera], memberships: dict[str, set[str]]
) -> list[pb.Camera]:
    """The cameras the caller may see, annotated in place with its access and redacted
    (the stored cameras are fresh copies owned by this call)."""
    out: list[pb.Camera] = []
    for item in stored:
        decision = view.decide(item.camera.id, item.organization_id, memberships)
        if not view.sees(decision):
            continue
        camera = item.camera
        if decision.visible:  # services and platform admins: no access of their own to show
            camera.caller_access.CopyFrom(convert.access_to_proto(decision))
        if not decision.owner and not view.visibility.everything:
            # A grant shares video through the platform, not the partner's network.
            camera.ClearField("streams")
        out.append(camera)
    return out
