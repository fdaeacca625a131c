"""The one access policy: may this caller see this of this camera, now? Pure.

``access.camera_access`` says what an *organisation* holds on a camera (owner, grants in
force, windows open now); this module turns that into an answer for a *caller* and a
*what* — metadata, live video, recorded video of an instant, stream health, analytics
results — with the caller's kind (service, platform admin, member) and the camera's
privacy masks. Every service asks the registry (``CheckCameraAccess``), which asks this.
The rules, as a table, are in docs/access.md; the clock is a parameter.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rtcc.registry.access import PLATFORM_ADMIN, Access


class What(enum.Enum):
    """What a caller wants of a camera (the proto's ``AccessWhat``, same numbers)."""

    METADATA = 1
    LIVE_VIDEO = 2
    RECORDED_VIDEO = 3
    HEALTH = 4
    ANALYTICS = 5


class CallerKind(enum.Enum):
    """What kind of caller asks: the roles that change the answer."""

    # A platform service acting for itself: sees everything, raw video included.
    SERVICE = "service"
    # A platform admin (not of the owning organisation): metadata and health only.
    PLATFORM_ADMIN = "platform-admin"
    # Any other member of an organisation: what the organisation holds.
    MEMBER = "member"


def caller_kind(*, is_service: bool, roles: Iterable[str]) -> CallerKind:
    """The kind of a caller; a service asking on behalf of a user passes the user's roles."""
    if is_service:
        return CallerKind.SERVICE
    return CallerKind.PLATFORM_ADMIN if PLATFORM_ADMIN in set(roles) else CallerKind.MEMBER


@dataclass(frozen=True)
class Decision:
    """The answer: allowed or not, and a short reason a person can read."""

    allowed: bool
    reason: str


VIDEO = (What.LIVE_VIDEO, What.RECORDED_VIDEO)


def decide(
    kind: CallerKind,
    held: Access,
    what: What,
    *,
    raw: bool = False,
    masked: bool = False,
    at: datetime | None = None,
) -> Decision:
    """Whether a caller of ``kind``, whose organisation holds ``held``, may see ``what``.

    ``raw``: unmasked video is wanted; ``masked``: the camera has privacy masks;
    ``at``: the instant of recorded video wanted (None: any the grant covers).
    """
    if kind is CallerKind.SERVICE:
        return Decision(True, "service")
    if raw and masked and what in VIDEO:
        return Decision(False, "privacy masked")
    if held.owner:
        return Decision(True, "owner")
    admin = kind is CallerKind.PLATFORM_ADMIN
    if what is What.METADATA:
        return Decision(held.visible or admin, "grant" if held.visible else _why_not(held, admin))
    in_window = bool(held.grant_ids)
    if what is What.HEALTH:
        if in_window or admin:
            return Decision(True, "grant" if in_window else "platform-admin")
        return Decision(False, held.reason)
    if not in_window:
        return Decision(False, "metadata only" if admin else held.reason)
    if what is What.ANALYTICS:
        return Decision(True, "grant")
    if what is What.LIVE_VIDEO:
        return Decision(held.live, "grant" if held.live else "scope not granted")
    if not held.recorded:
        return Decision(False, "scope not granted")
    if at is not None and held.recorded_since is not None and at < held.recorded_since:
        return Decision(False, "before grant start")
    return Decision(True, "grant")


def _why_not(held: Access, admin: bool) -> str:
    return "platform-admin" if admin else held.reason
