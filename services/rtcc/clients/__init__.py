"""Typed clients of every OpenRTCC service, and the shared access-decision cache.

Services never build gRPC stubs of each other by hand; they use these:

    from rtcc.clients import Caller, What, for_service

    clients = for_service(runtime, "alerting")        # one bundle per service
    camera = await clients.registry.get_camera("cam_…")           # as the service
    cams = await clients.registry.list_cameras(caller=Caller.of_call(context))  # as the user
    await clients.access.require(principal, "cam_…", What.ANALYTICS)  # or PermissionDenied
    async for item in rechecked(source, access_check(clients.access, principal,
                                                    ["cam_…"], What.LIVE_VIDEO),
                                runtime.settings.access.recheck_s): ...

* Every client (``RegistryClient``, ``IngestClient``, ``AnalyticsClient``,
  ``AlertingClient``, ``EvidenceClient``, ``PlaybackClient``) has deadlines
  (``settings.access.call_timeout_s``), retries idempotent calls only (bounded
  backoff), and raises ``rtcc.core.errors`` types (``clients.errors.translate``).
* ``Caller.service()`` calls as the service; ``Caller.user(principal, bearer)`` forwards
  the user's token; access checks ask as the service on behalf of the user's
  organisation and roles.
* ``AccessDecisions`` (``clients.access``): one cache per process, invalidated by the
  registry's ``WatchCameras`` stream; ``require`` audits refusals (``AccessAudit``).
* ``streams.rechecked`` ends long-lived streams when access or the token lapses.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rtcc.clients.access import AccessDecision, AccessDecisions, What
from rtcc.clients.alerting import AlertingClient
from rtcc.clients.analytics import AnalyticsClient
from rtcc.clients.audit import AccessAudit
from rtcc.clients.base import CallPolicy, ChannelFactory, ServiceClient
from rtcc.clients.caller import Caller, bearer_of
from rtcc.clients.evidence import EvidenceClient
from rtcc.clients.ingest import IngestClient
from rtcc.clients.playback import PlaybackClient
from rtcc.clients.registry import RegistryClient
from rtcc.clients.streams import access_check, rechecked, require_unexpired
from rtcc.core.runtime import Runtime

__all__ = [
    "AccessAudit",
    "AccessDecision",
    "AccessDecisions",
    "AlertingClient",
    "AnalyticsClient",
    "CallPolicy",
    "Caller",
    "Clients",
    "EvidenceClient",
    "IngestClient",
    "PlaybackClient",
    "RegistryClient",
    "ServiceClient",
    "What",
    "access_check",
    "bearer_of",
    "for_service",
    "rechecked",
    "require_unexpired",
    "shared_access",
]


@dataclass(frozen=True)
class Clients:
    """The clients one service uses, calling as ``service:<name>``."""

    registry: RegistryClient
    ingest: IngestClient
    analytics: AnalyticsClient
    alerting: AlertingClient
    evidence: EvidenceClient
    playback: PlaybackClient
    access: AccessDecisions
    audit: AccessAudit
    recheck_s: float


def for_service(runtime: Runtime, name: str) -> Clients:
    """The clients of service ``name`` (peers resolved per call, so order of start-up
    does not matter), sharing the process's access cache."""
    policy = CallPolicy(timeout_s=runtime.settings.access.call_timeout_s)

    def channel(target: str) -> ChannelFactory:
        return lambda: runtime.channel(target, as_service=name)

    return Clients(
        registry=RegistryClient(channel("registry"), policy),
        ingest=IngestClient(channel("ingest"), policy),
        analytics=AnalyticsClient(channel("analytics"), policy),
        alerting=AlertingClient(channel("alerting"), policy),
        evidence=EvidenceClient(channel("evidence"), policy),
        playback=PlaybackClient(channel("playback"), policy),
        access=shared_access(runtime),
        audit=AccessAudit(runtime.db),
        recheck_s=runtime.settings.access.recheck_s,
    )


def shared_access(runtime: Runtime) -> AccessDecisions:
    """The process's one access cache; the first caller starts its watch follower."""
    found = runtime.shared.get("access")
    if isinstance(found, AccessDecisions):
        return found
    settings = runtime.settings.access
    policy = CallPolicy(timeout_s=settings.call_timeout_s)
    registry = RegistryClient(lambda: runtime.channel("registry", as_service="access"), policy)
    decisions = AccessDecisions(
        registry,
        ttl_s=settings.cache_ttl_s,
        size=settings.cache_size,
        audit=AccessAudit(runtime.db),
    )
    runtime.shared["access"] = decisions
    runtime.spawn(decisions.follow(asyncio.Event()), name="access-cache-watch")
    return decisions
