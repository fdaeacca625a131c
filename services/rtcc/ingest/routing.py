"""Live streams follow the lease: any ingest replica serves any camera's live packets
and frames, proxying to the replica that holds the camera's lease.

A camera has one RTSP session, on the replica that records it. Playback and
analytics call the load-balanced ingest Service, so the replica they reach is
usually not the holder. That replica has already authorised the caller (api_live.py);
it then looks the lease up (the lease row carries the holder's advertised gRPC
address, ``ingest.advertise_address``: in Kubernetes the pod's name under the
headless Service) and relays the holder's stream, calling it as ``service:ingest``.

- Connecting has a deadline: a holder that cannot be reached is answered with
  UNAVAILABLE naming the holder and its address, never a hang.
- One hop only: a call from another ingest replica (``service:ingest``) is never
  proxied again, so a lease that moves while a call is in flight cannot make two
  replicas proxy to each other; the caller gets the usual FAILED_PRECONDITION naming
  the holder and retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import structlog

from rtcc.clients.ingest import IngestClient
from rtcc.core.auth import Principal
from rtcc.core.errors import RtccError, Unavailable
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL, Lease
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import MAIN
from rtcc.ingest.v1 import ingest_pb2 as pb

log = structlog.get_logger("rtcc.ingest.routing")

# The identity other replicas call with: their calls are served here, never relayed.
INGEST_SERVICE = "service:ingest"
ChannelOpener = Callable[[str], grpc.aio.Channel]
Relayed = Callable[[IngestClient], AsyncIterator[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """A camera recorded by another replica, and how to reach it."""

    lease: Lease
    _open: ChannelOpener
    connect_timeout_s: float

    def _unreachable(self, why: str) -> Unavailable:
        return Unavailable(
            f"camera {self.lease.camera_id} is recorded by ingest replica "
            f"{self.lease.replica_id} at {self.lease.address}, which this replica cannot "
            f"reach ({why}); try again shortly"
        )

    async def packets(self, request: pb.StreamPacketsRequest) -> AsyncIterator[Any]:
        async for message in self._relay(lambda c: c.stream_packets(request)):
            yield message

    async def frames(self, request: pb.StreamFramesRequest) -> AsyncIterator[Any]:
        async for message in self._relay(lambda c: c.stream_frames(request)):
            yield message

    async def _relay(self, call: Relayed) -> AsyncIterator[Any]:
        channel = self._open(self.lease.address)
        try:
            try:
                await asyncio.wait_for(channel.channel_ready(), self.connect_timeout_s)
            except TimeoutError:
                why = f"no connection within {self.connect_timeout_s:g} s"
                raise self._unreachable(why) from None
            client = IngestClient(lambda: channel)
            try:
                async for message in call(client):
                    yield message
            except Unavailable as exc:
                raise self._unreachable(str(exc)) from None
        finally:
            await channel.close()


class LiveRouter:
    """Finds where a camera's live stream is served when it is not served here."""

    def __init__(
        self,
        leases: LeaseStore,
        recorder: Recorder,
        replica_id: str,
        open_channel: ChannelOpener,
        *,
        connect_timeout_s: float = 3.0,
    ) -> None:
        self.leases, self.recorder, self.replica_id = leases, recorder, replica_id
        self._open, self.connect_timeout_s = open_channel, connect_timeout_s

    async def route(self, who: Principal, camera_id: str) -> Route | None:
        """The route to the camera's holder; None when the stream is to be served (or
        refused) here: recorded here, held by nobody, or the caller is itself a replica."""
        if who.subject == INGEST_SERVICE or self.recorder.find(camera_id, MAIN) is not None:
            return None
        try:
            held = await self.leases.unexpired(INGEST_POOL, camera_id=camera_id, limit=1)
        except RtccError:
            return None  # database away: answer from what this replica knows
        if not held or held[0].replica_id == self.replica_id:
            return None
        lease = held[0]
        if not lease.address:
            raise Unavailable(
                f"camera {camera_id} is recorded by ingest replica {lease.replica_id}, which "
                "has not advertised an address (set ingest.advertise_address on it)"
            )
        log.debug("live_stream_routed", camera_id=camera_id, holder=lease.replica_id)
        return Route(lease, self._open, self.connect_timeout_s)
