"""The playback target: WebRTC sessions (WHEP and gRPC) and the operator console.

Wires the parts: ingest's gRPC API as the packet source (live and recorded), the
registry's as the access authority, the audit log for recorded-video sessions,
the HTTP routes, the gRPC servicer, and one background loop that re-checks access.
"""

from __future__ import annotations

import asyncio
import time

import grpc

from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.clients import for_service
from rtcc.core.auth import Principal
from rtcc.core.runtime import Runtime
from rtcc.ingest.v1 import ingest_pb2_grpc
from rtcc.playback.http_api import CONSOLE_MODULES, PlaybackHttp
from rtcc.playback.ice import configure_ice
from rtcc.playback.ingest_source import IngestPacketSource, IngestRecordings
from rtcc.playback.investigate import AnalyticsSearch
from rtcc.playback.ratelimit import OfferRateLimiter
from rtcc.playback.relay import RelayHub, SourceFactory
from rtcc.playback.routing import Owner, SessionRouting
from rtcc.playback.rpc import PlaybackServicer
from rtcc.playback.sessions import SessionManager, SessionOptions
from rtcc.playback.timeline import Timeline
from rtcc.playback.v1 import playback_pb2, playback_pb2_grpc
from rtcc.playback.viewers import ViewerAccess
from rtcc.playback.wall import WallManager

# Offers per second per user, and the burst allowed: a console opens a wall with one
# offer, but falls back to one per tile (16 for the main streams, then 16 for the sub
# streams) where the wall endpoint fails.
OFFER_RATE = 5.0
OFFER_BURST = 40


def _audit_writer(runtime: Runtime):  # type: ignore[no-untyped-def]
    async def write(principal: Principal, camera_id: str, details: dict[str, object]) -> None:
        entry = AuditEntry(
            actor_subject=principal.subject,
            actor_org_id=principal.org_id,
            action="playback.recorded.view",
            resource_type="camera",
            resource_id=camera_id,
            after=dict(details),
        )
        async with runtime.db.transaction() as conn:
            await append_audit(conn, entry)

    return write


async def _own(sessions: SessionManager, walls: WallManager, hub: RelayHub) -> None:
    try:
        await asyncio.gather(
            sessions.recheck_loop(), walls.recheck_loop(sessions.options.recheck_s)
        )
    finally:
        await asyncio.shield(_shutdown(sessions, walls, hub))


async def _shutdown(sessions: SessionManager, walls: WallManager, hub: RelayHub) -> None:
    await sessions.close_all()
    await walls.close_all()
    await hub.close()


def session_routing(runtime: Runtime) -> SessionRouting:
    settings = runtime.settings
    owner = Owner(
        settings.playback.advertise_address or runtime.self_address,
        settings.playback.advertise_url or settings.resolved_public_url(),
    )
    return SessionRouting(owner, runtime.authority_secret(), tls=settings.tls)


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    configure_ice()
    ingest = ingest_pb2_grpc.IngestServiceStub(runtime.channel("ingest", as_service="playback"))
    clients = for_service(runtime, "playback")
    registry = ViewerAccess(clients.access, clients.registry)

    def live_source(key: str) -> SourceFactory:
        camera_id, _, stream = key.partition("/")
        return lambda: IngestPacketSource(ingest, camera_id, int(stream or 0))

    hub = RelayHub(live_source)
    sessions = SessionManager(
        access=registry,
        hub=hub,
        recordings=IngestRecordings(ingest),
        audit=_audit_writer(runtime),
        verify=runtime.authority.verify,
        options=SessionOptions(recheck_s=clients.recheck_s),
    )
    limiter = OfferRateLimiter(OFFER_RATE, OFFER_BURST, time.monotonic)

    # Events, plates and snapshots for the console, when analytics is part of the platform.
    def served(target: str) -> bool:
        return target in runtime.local_targets or bool(getattr(runtime.settings.peers, target))

    search = AnalyticsSearch(clients.analytics) if served("analytics") else None
    modules = tuple(view for view, target in CONSOLE_MODULES.items() if served(target))
    # Behind a load balancer with N replicas: calls for a session (or wall) another
    # replica owns are forwarded to it (routing.py).
    routing = session_routing(runtime)
    sessions.new_session_id = routing.new_session_id
    walls = WallManager(
        access=registry, hub=hub, verify=runtime.authority.verify,
        new_session_id=routing.new_session_id,
    )  # fmt: skip
    http = PlaybackHttp(
        sessions, runtime.authority, limiter, registry, Timeline(registry, ingest),
        search=search, console=runtime.settings.playback, modules=modules, walls=walls,
    )  # fmt: skip

    def local(session_id: str) -> bool:
        return session_id in sessions.sessions or session_id in walls.walls

    runtime.http_routes.extend(routing.wrap_routes(http.routes(), local))
    playback_pb2_grpc.add_PlaybackServiceServicer_to_server(
        routing.wrap_servicer(PlaybackServicer(sessions, limiter), local), server
    )
    runtime.spawn(_own(sessions, walls, hub), name="playback-sessions")
    return [playback_pb2.DESCRIPTOR.services_by_name["PlaybackService"].full_name]
