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
from rtcc.core.auth import Principal
from rtcc.core.runtime import Runtime
from rtcc.ingest.v1 import ingest_pb2_grpc
from rtcc.playback.access import RegistryAccess
from rtcc.playback.http_api import PlaybackHttp
from rtcc.playback.ice import configure_ice
from rtcc.playback.ingest_source import IngestPacketSource, IngestRecordings
from rtcc.playback.ratelimit import OfferRateLimiter
from rtcc.playback.relay import RelayHub, SourceFactory
from rtcc.playback.rpc import PlaybackServicer
from rtcc.playback.sessions import SessionManager
from rtcc.playback.timeline import Timeline
from rtcc.playback.v1 import playback_pb2, playback_pb2_grpc

# Offers per second per user, and the burst allowed (a console opening a grid).
OFFER_RATE = 5.0
OFFER_BURST = 20


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


async def _own(sessions: SessionManager, hub: RelayHub) -> None:
    try:
        await sessions.recheck_loop()
    finally:
        await asyncio.shield(_shutdown(sessions, hub))


async def _shutdown(sessions: SessionManager, hub: RelayHub) -> None:
    await sessions.close_all()
    await hub.close()


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    configure_ice()
    ingest = ingest_pb2_grpc.IngestServiceStub(runtime.channel("ingest", as_service="playback"))
    registry = RegistryAccess(runtime.channel("registry", as_service="playback"))

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
    )
    limiter = OfferRateLimiter(OFFER_RATE, OFFER_BURST, time.monotonic)
    http = PlaybackHttp(sessions, runtime.authority, limiter, registry, Timeline(registry, ingest))
    runtime.http_routes.extend(http.routes())
    playback_pb2_grpc.add_PlaybackServiceServicer_to_server(
        PlaybackServicer(sessions, limiter), server
    )
    runtime.spawn(_own(sessions, hub), name="playback-sessions")
    return [playback_pb2.DESCRIPTOR.services_by_name["PlaybackService"].full_name]
