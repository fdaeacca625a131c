"""Who may see and change what in the registry. Pure: the clock is a parameter.

Two questions, kept apart:

* **Roles gate actions.** Any member role reads; ``partner-admin`` administers its own
  organisation (cameras, grants it gives, imports); ``platform-admin`` administers
  every organisation; services (``service:<target>``) read everything, and only
  ``service:ingest`` reads stream credentials and reports health.
* **Grants gate resources.** An organisation sees the cameras it owns and those covered
  by a grant *in force* (not pending, expired or revoked). Whether it may view video
  *now* also depends on the grant's scope (live, recorded) and its schedule windows.
  Schedules restrict when video may be viewed, not whether the camera's existence and
  position are known: an RTCC must know at 14:00 that a camera is there, and that its
  live view opens at 22:00.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rtcc.common.schedule import Schedule, Window
from rtcc.core.auth import Principal
from rtcc.core.errors import PermissionDenied

PLATFORM_ADMIN = "platform-admin"
ORG_ADMIN = "partner-admin"
MEMBER_ROLES = ("operator", "investigator", "analyst", ORG_ADMIN, PLATFORM_ADMIN)
INGEST = "ingest"
__all__ = ["Schedule", "Window"]  # the one schedule type, re-exported for the registry


class GrantState(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Grant:
    """The access-relevant part of a sharing grant.

    ``camera_ids`` may be narrowed by the store to the cameras a question is about.
    """

    id: str
    grantor_org_id: str
    grantee_org_id: str
    all_cameras: bool
    camera_ids: frozenset[str]
    live: bool
    recorded: bool
    schedule: Schedule | None = None
    start_time: datetime | None = None
    expire_time: datetime | None = None
    revoke_time: datetime | None = None

    def covers(self, owner_org_id: str, camera_id: str) -> bool:
        if owner_org_id != self.grantor_org_id:
            return False
        return self.all_cameras or camera_id in self.camera_ids


@dataclass(frozen=True)
class Access:
    """What an organisation may do with one camera now."""

    visible: bool
    owner: bool = False
    live: bool = False
    recorded: bool = False
    # When the access ends if nothing changes; None: it does not end.
    valid_until: datetime | None = None
    grant_ids: tuple[str, ...] = ()
    reason: str = "no grant"
    # The earliest recorded instant the recorded-scope grants cover (their start);
    # None: no lower bound (the owner, or a grant without a start time).
    recorded_since: datetime | None = None


NO_ACCESS = Access(visible=False)
OWNER_ACCESS = Access(visible=True, owner=True, live=True, recorded=True, reason="owner")


@dataclass(frozen=True)
class Visibility:
    """Which cameras one caller may see, in a form a store turns into a SQL filter."""

    everything: bool
    org_id: str
    # Grantors whose every camera is visible through an all-cameras grant.
    grantor_org_ids: frozenset[str] = frozenset()
    # Grants in force that name their cameras one by one.
    camera_grant_ids: frozenset[str] = frozenset()


def grant_state(grant: Grant, now: datetime) -> GrantState:
    if grant.revoke_time is not None:
        return GrantState.REVOKED
    if grant.expire_time is not None and grant.expire_time <= now:
        return GrantState.EXPIRED
    if grant.start_time is not None and grant.start_time > now:
        return GrantState.PENDING
    return GrantState.ACTIVE


def in_force(grant: Grant, now: datetime) -> bool:
    return grant_state(grant, now) is GrantState.ACTIVE


def open_window_end(schedule: Schedule, now: datetime) -> datetime | None:
    """End of the schedule window open at ``now`` (latest if several); None when closed."""
    return schedule.open_window_end(now)


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def camera_access(
    org_id: str, owner_org_id: str, camera_id: str, grants: Iterable[Grant], now: datetime
) -> Access:
    """What ``org_id`` may do now with a camera owned by ``owner_org_id``."""
    if org_id == owner_org_id:
        return OWNER_ACCESS
    visible, live, recorded = False, False, False
    ids: list[str] = []
    ends: list[datetime | None] = []
    starts: list[datetime | None] = []
    reason = "no grant"
    for grant in grants:
        if grant.grantee_org_id != org_id or not grant.covers(owner_org_id, camera_id):
            continue
        if not in_force(grant, now):
            continue
        visible = True
        window_end: datetime | None = None
        if grant.schedule is not None:
            window_end = open_window_end(grant.schedule, now)
            if window_end is None:
                reason = "outside schedule"
                continue
        live, recorded = live or grant.live, recorded or grant.recorded
        if grant.recorded:
            starts.append(grant.start_time)
        ids.append(grant.id)
        ends.append(_earliest(window_end, grant.expire_time))
    if not ids:
        return Access(visible=visible, reason=reason)
    valid_until = None if any(e is None for e in ends) else max(e for e in ends if e)
    since = None if not starts or None in starts else min(s for s in starts if s)
    return Access(True, False, live, recorded, valid_until, tuple(ids), "grant", since)


def visibility(principal: Principal, grants: Iterable[Grant], now: datetime) -> Visibility:
    """The cameras a caller may list: all for services and platform admins."""
    if sees_everything(principal):
        return Visibility(everything=True, org_id=principal.org_id)
    grantors: set[str] = set()
    camera_grants: set[str] = set()
    for grant in grants:
        if grant.grantee_org_id != principal.org_id or not in_force(grant, now):
            continue
        if grant.all_cameras:
            grantors.add(grant.grantor_org_id)
        else:
            camera_grants.add(grant.id)
    return Visibility(False, principal.org_id, frozenset(grantors), frozenset(camera_grants))


# ---- roles -----------------------------------------------------------------------


def sees_everything(principal: Principal) -> bool:
    """Services and platform admins read every camera's metadata (not its video)."""
    return principal.is_service() or principal.has_any_role(PLATFORM_ADMIN)


def require_member(principal: Principal) -> None:
    """Any user of an organisation, or a service."""
    if not principal.is_service() and not principal.has_any_role(*MEMBER_ROLES):
        raise PermissionDenied(f"{principal.subject} has no role that may use the registry")


def require_org_admin(principal: Principal, org_id: str) -> None:
    """Administer ``org_id``: its own partner-admin, or a platform admin."""
    if principal.has_any_role(PLATFORM_ADMIN):
        return
    if principal.has_any_role(ORG_ADMIN) and principal.org_id == org_id:
        return
    if principal.has_any_role(ORG_ADMIN):
        raise PermissionDenied(f"{principal.subject} administers {principal.org_id}, not {org_id}")
    raise PermissionDenied(
        f"changing {org_id} needs the partner-admin role in it or platform-admin"
    )


def require_platform_admin(principal: Principal) -> None:
    if not principal.has_any_role(PLATFORM_ADMIN):
        raise PermissionDenied("this call needs the platform-admin role")


def require_service(principal: Principal, name: str) -> None:
    if not principal.is_service(name):
        raise PermissionDenied(f"only the service:{name} identity may make this call")


def may_check_for(principal: Principal, org_id: str) -> bool:
    """Services check access on behalf of any organisation; users only for their own."""
    return principal.is_service() or principal.org_id == org_id


def sees_organization(principal: Principal, org_id: str, partner_org_ids: Iterable[str]) -> bool:
    """Its own organisation, those it shares with (either way), or all for admins."""
    if sees_everything(principal) or principal.org_id == org_id:
        return True
    return org_id in set(partner_org_ids)
