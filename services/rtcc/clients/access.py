"""Access decisions for every service: the registry's policy, cached and kept current.

``AccessDecisions.decide(principal, camera_id, what)`` answers from one shared cache
(key: organisation, caller kind, camera, what, raw); a miss costs one
``CheckCameraAccess`` round trip, asked as the service on behalf of the caller's
organisation and roles, so a decision serves every user of that organisation alike.
Entries live at most ``ttl_s`` and never past the decision's own end (grant expiry,
end of a schedule window). ``follow(stop)`` reads the registry's ``WatchCameras``
stream: an ``ACCESS_CHANGED`` change (grant created, changed, revoked or expired)
drops the grantee's entries, a camera change drops that camera's. A window that
*opens* is not announced: a refusal cached before it is kept at most ``ttl_s``.
Denials are audited through ``AccessAudit`` when one is given.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from rtcc.clients.audit import AccessAudit
from rtcc.clients.caller import Caller
from rtcc.clients.registry import RegistryClient
from rtcc.common import time as wire_time
from rtcc.core.auth import Principal
from rtcc.core.errors import NotFound, PermissionDenied, RtccError
from rtcc.registry.v1 import registry_pb2 as pb

log = structlog.get_logger("rtcc.clients.access")


class What(enum.IntEnum):
    """What a caller wants of a camera (``rtcc.registry.v1.AccessWhat``)."""

    METADATA = pb.ACCESS_WHAT_METADATA
    LIVE_VIDEO = pb.ACCESS_WHAT_LIVE_VIDEO
    RECORDED_VIDEO = pb.ACCESS_WHAT_RECORDED_VIDEO
    HEALTH = pb.ACCESS_WHAT_HEALTH
    ANALYTICS = pb.ACCESS_WHAT_ANALYTICS


_WORDS = {
    What.METADATA: "metadata",
    What.LIVE_VIDEO: "live video",
    What.RECORDED_VIDEO: "recorded video",
    What.HEALTH: "stream health",
    What.ANALYTICS: "analytics results",
}
_ACTIONS = {
    What.METADATA: "camera.read",
    What.LIVE_VIDEO: "video.live",
    What.RECORDED_VIDEO: "video.recorded",
    What.HEALTH: "stream.health",
    What.ANALYTICS: "analytics.read",
}
PLATFORM_ADMIN = "platform-admin"


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """One answer of the policy for one caller kind, camera and what."""

    allowed: bool
    reason: str
    # The camera does not exist or its organisation may not even know it exists.
    missing: bool = False
    privacy_masked: bool = False
    owner: bool = False
    # Earliest recorded instant visible (grant start); None: no bound.
    recorded_since: datetime | None = None

    def at(self, instant: datetime | None) -> AccessDecision:
        """This decision for recorded video of ``instant``."""
        since = self.recorded_since
        if not self.allowed or instant is None or since is None or instant >= since:
            return self
        return AccessDecision(False, "before grant start", privacy_masked=self.privacy_masked)


SERVICE_DECISION = AccessDecision(True, "service")
NO_ROLE = AccessDecision(False, "no role")
# Roles of people who may see anything of a camera at all.
MEMBER_ROLES = frozenset({"operator", "investigator", "analyst", "partner-admin", PLATFORM_ADMIN})
_Key = tuple[str, str, str, int, bool]


def caller_kind(principal: Principal) -> str:
    """``service``, ``platform-admin`` or ``member``: the roles that change an answer."""
    if principal.is_service():
        return "service"
    return PLATFORM_ADMIN if PLATFORM_ADMIN in principal.roles else "member"


def refusal(what: What, camera_id: str, reason: str) -> str:
    """The sentence a refused person reads: what, which camera, why, what to do."""
    if reason == "privacy masked":
        return (
            f"camera {camera_id} has privacy masks: people see its video only masked, "
            "through playback (a playback session or the console)"
        )
    if reason == "metadata only":
        return (
            f"platform admins see camera {camera_id}'s metadata only, not its "
            f"{_WORDS[what]}; ask its owner for a sharing grant"
        )
    return f"your organisation may not see the {_WORDS[what]} of camera {camera_id} now ({reason})"


class AccessDecisions:
    """The shared, watched cache of access decisions of one process."""

    def __init__(
        self,
        registry: RegistryClient,
        *,
        ttl_s: float = 10.0,
        size: int = 100_000,
        audit: AccessAudit | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.ttl_s = ttl_s
        self.size = size
        self.audit = audit
        self._clock = clock
        self._entries: OrderedDict[_Key, tuple[float, AccessDecision]] = OrderedDict()
        self._sets: dict[tuple[str, str, int], tuple[float, frozenset[str]]] = {}
        self.following = False
        self.hits = 0
        self.misses = 0

    # ---- decisions ----------------------------------------------------------------

    async def decide(
        self,
        principal: Principal,
        camera_id: str,
        what: What,
        *,
        raw: bool = False,
        at: datetime | None = None,
    ) -> AccessDecision:
        """The policy's answer for the caller; a cache hit costs a dictionary lookup."""
        kind = caller_kind(principal)
        if kind == "service":
            return SERVICE_DECISION
        if not principal.roles & MEMBER_ROLES:
            return NO_ROLE
        key = (principal.org_id, kind, camera_id, int(what), raw)
        entry = self._entries.get(key)
        now = self._clock()
        if entry is not None and entry[0] > now:
            self.hits += 1
            return entry[1].at(at)
        self.misses += 1
        decision, until = await self._ask(principal, kind, camera_id, what, raw)
        self._entries[key] = (min(now + self.ttl_s, until), decision)
        if len(self._entries) > self.size:
            for _ in range(max(1, self.size // 10)):
                self._entries.popitem(last=False)
        return decision.at(at)

    async def _ask(
        self, principal: Principal, kind: str, camera_id: str, what: What, raw: bool
    ) -> tuple[AccessDecision, float]:
        roles = (PLATFORM_ADMIN,) if kind == PLATFORM_ADMIN else ()
        try:
            answer = await self.registry.check_access(
                camera_id, int(what), organization_id=principal.org_id, roles=roles, raw=raw
            )
        except NotFound:
            return AccessDecision(False, "not found", missing=True), float("inf")
        held = answer.access
        decision = AccessDecision(
            answer.allowed,
            answer.reason,
            privacy_masked=answer.privacy_masked,
            owner=held.owner,
            recorded_since=wire_time.optional_datetime(held, "recorded_since"),
        )
        until = float("inf")
        if answer.allowed and held.HasField("valid_until"):
            left = (wire_time.to_datetime(held.valid_until) - datetime.now(UTC)).total_seconds()
            until = self._clock() + max(0.0, left)
        return decision, until

    async def require(
        self,
        principal: Principal,
        camera_id: str,
        what: What,
        *,
        raw: bool = False,
        at: datetime | None = None,
        audit_allowed: bool = False,
    ) -> AccessDecision:
        """The decision when allowed; otherwise the refusal is audited and raised
        (NotFound for a camera the caller may not know, PermissionDenied otherwise)."""
        decision = await self.decide(principal, camera_id, what, raw=raw, at=at)
        if decision.allowed:
            if audit_allowed and self.audit is not None:
                await self.audit.record(principal, _ACTIONS[what], "camera", camera_id, "allowed")
            return decision
        if self.audit is not None:
            await self.audit.record(
                principal, _ACTIONS[what], "camera", camera_id, "denied", decision.reason
            )
        if decision.missing:
            raise NotFound(f"camera {camera_id} does not exist or is not shared with you")
        raise PermissionDenied(refusal(what, camera_id, decision.reason))

    async def allowed_cameras(self, caller: Caller, what: What) -> frozenset[str] | None:
        """The cameras for which the caller may see ``what`` now; None: every camera.

        One paged ``ListCameras`` answered for the caller (their token forwarded), read
        through the per-camera access it carries; cached per organisation and kind.
        """
        principal = caller.principal
        if principal is None or principal.is_service():
            return None
        kind = caller_kind(principal)
        if kind == PLATFORM_ADMIN and what in (What.METADATA, What.HEALTH):
            return None  # platform admins see every camera's metadata and health
        key = (principal.org_id, kind, int(what))
        now = self._clock()
        cached = self._sets.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        cameras = await self.registry.list_cameras(caller=caller)
        chosen = frozenset(c.id for c in cameras if _grants(c.caller_access, what))
        if len(self._sets) > 4096:
            self._sets.clear()
        self._sets[key] = (now + self.ttl_s, chosen)
        return chosen

    # ---- keeping current ----------------------------------------------------------

    def invalidate(self, *, camera_id: str | None = None, org_id: str | None = None) -> int:
        """Drop the entries of a camera, of an organisation, or (neither) all; how many."""
        if camera_id is None and org_id is None:
            count = len(self._entries)
            self._entries.clear()
            self._sets.clear()
            return count
        doomed = [
            k
            for k in self._entries
            if (camera_id is not None and k[2] == camera_id)
            or (org_id is not None and k[0] == org_id)
        ]
        for key in doomed:
            del self._entries[key]
        if org_id is not None:
            for set_key in [k for k in self._sets if k[0] == org_id]:
                del self._sets[set_key]
        else:
            self._sets.clear()
        return len(doomed)

    def apply(self, change: pb.WatchCamerasResponse) -> None:
        """One change of the registry's watch stream."""
        if change.type == pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED:
            grantee = change.grant.grantee_organization_id
            self.invalidate(org_id=grantee) if grantee else self.invalidate()
        elif change.type in (
            pb.CAMERA_CHANGE_TYPE_CREATED,
            pb.CAMERA_CHANGE_TYPE_UPDATED,
            pb.CAMERA_CHANGE_TYPE_DELETED,
        ):
            self.invalidate(camera_id=change.camera_id)

    async def follow(self, stop: asyncio.Event, *, retry_s: float = 2.0) -> None:
        """Apply the registry's changes until ``stop``; reconnect after a failure."""
        while not stop.is_set():
            try:
                async for change in self.registry.watch(0):
                    self.following = True
                    self.apply(change)
                    if stop.is_set():
                        return
            except asyncio.CancelledError:
                raise
            except RtccError as exc:
                log.warning("access_watch_failed", error=str(exc))
            except Exception:  # a bug must not end invalidation silently
                log.exception("access_watch_crashed")
            self.following = False
            self.invalidate()  # changes may have been missed while away
            try:
                await asyncio.wait_for(stop.wait(), retry_s)
            except TimeoutError:
                pass


def _grants(held: pb.CameraAccess, what: What) -> bool:
    if held.owner:
        return True
    return {
        What.METADATA: True,
        What.LIVE_VIDEO: held.live,
        What.RECORDED_VIDEO: held.recorded,
        What.HEALTH: held.health,
        What.ANALYTICS: held.analytics,
    }[what]
