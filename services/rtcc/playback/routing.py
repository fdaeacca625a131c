"""Playback sessions behind N replicas: the session id names the replica that owns it.

A session is an aiortc peer connection in one process's memory; it cannot move. Its
id therefore carries its owner's addresses (``pbs_<random>-<owner>-<mac>``: gRPC
HOST:PORT and HTTP base URL, base32, and an HMAC under the platform's signing key so
that nobody can make a replica forward a call to an address of their choosing). Any
replica that gets a call for a session it does not hold (WHEP ``DELETE``, the JSON
session routes, the gRPC control calls) forwards it to the owner with the caller's
own token, and returns the owner's answer. A load balancer in front of the replicas
needs no stickiness; an owner that cannot be reached is answered with UNAVAILABLE
(HTTP 503) naming it, within the connect deadline.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import structlog
from aiohttp import web

from rtcc.clients.caller import bearer_of
from rtcc.clients.errors import translate
from rtcc.core.clients import open_channel
from rtcc.core.config import TlsSettings
from rtcc.core.errors import Unavailable
from rtcc.core.ids import new_id
from rtcc.playback.v1 import playback_pb2_grpc

log = structlog.get_logger("rtcc.playback.routing")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# gRPC methods whose request names a session (all but CreateSession).
SESSION_METHODS = (
    "GetSession", "AddIceCandidate", "Seek", "SetRate", "Pause", "Resume", "CloseSession",
)  # fmt: skip
_HOP = "x-rtcc-forwarded"  # set on forwarded calls: an owner never forwards again


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


@dataclass(frozen=True, slots=True)
class Owner:
    """Where the replica that owns a session is reached."""

    grpc_address: str
    http_url: str


class SessionRouting:
    """Makes session ids for this replica and finds the owner of any other id."""

    def __init__(
        self,
        me: Owner,
        key: bytes,
        *,
        tls: TlsSettings | None = None,
        connect_timeout_s: float = 3.0,
    ) -> None:
        self.me, self._key, self._tls = me, key, tls
        self.connect_timeout_s = connect_timeout_s
        self._suffix = self._owner_text(me)

    def _owner_text(self, owner: Owner) -> str:
        return _b32(f"{owner.grpc_address}|{owner.http_url}".encode())

    def _mac(self, base: str, owner_text: str) -> str:
        digest = hmac.new(self._key, f"{base}-{owner_text}".encode(), hashlib.sha256).digest()
        return _b32(digest[:5])

    def new_session_id(self) -> str:
        base = new_id("pbs")
        return f"{base}-{self._suffix}-{self._mac(base, self._suffix)}"

    def owner(self, session_id: str) -> Owner | None:
        """The owner named by a (genuine) session id of another replica; None when the
        id is this replica's, malformed or forged (the caller then answers NOT_FOUND)."""
        base, _, rest = session_id.partition("-")
        owner_text, _, mac = rest.partition("-")
        if not owner_text or owner_text == self._suffix:
            return None
        if not hmac.compare_digest(mac, self._mac(base, owner_text)):
            return None
        try:
            grpc_address, _, http_url = _unb32(owner_text).decode().partition("|")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return Owner(grpc_address, http_url)

    def _unreachable(self, session_id: str, owner: Owner, why: str) -> Unavailable:
        return Unavailable(
            f"session {session_id} is served by the playback replica at {owner.grpc_address}"
            f" ({owner.http_url}), which this replica cannot reach ({why}); try again shortly"
        )

    # -- HTTP ---------------------------------------------------------------------

    def wrap_routes(
        self, routes: list[tuple[str, str, Handler]], is_local: Callable[[str], bool]
    ) -> list[tuple[str, str, Handler]]:
        """Routes naming ``{session_id}`` forward to the owner when it is elsewhere."""
        return [
            (method, path, self._http_forwarding(handler, is_local) if "{session_id}" in path
             else handler)
            for method, path, handler in routes
        ]  # fmt: skip

    def _http_forwarding(self, handler: Handler, is_local: Callable[[str], bool]) -> Handler:
        async def routed(request: web.Request) -> web.StreamResponse:
            session_id = request.match_info["session_id"]
            owner = None if is_local(session_id) else self.owner(session_id)
            if owner is None or request.headers.get(_HOP):
                return await handler(request)
            return await self._forward_http(request, owner, session_id)

        return routed

    async def _forward_http(
        self, request: web.Request, owner: Owner, session_id: str
    ) -> web.StreamResponse:
        headers = {_HOP: "1"}
        for name in ("Authorization", "Content-Type"):
            if name in request.headers:
                headers[name] = request.headers[name]
        timeout = aiohttp.ClientTimeout(total=15, connect=self.connect_timeout_s)
        url = owner.http_url.rstrip("/") + request.path_qs
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as client,
                client.request(
                    request.method, url, headers=headers, data=await request.read()
                ) as reply,
            ):
                body = await reply.read()
                kind = reply.headers.get("Content-Type", "application/json")
                return web.Response(status=reply.status, body=body, headers={"Content-Type": kind})
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = self._unreachable(session_id, owner, type(exc).__name__)
            return web.json_response({"error": error.message}, status=503)

    # -- gRPC ---------------------------------------------------------------------

    def wrap_servicer(self, servicer: Any, is_local: Callable[[str], bool]) -> Any:
        """Session calls for sessions owned elsewhere are forwarded to the owner."""
        for name in SESSION_METHODS:
            setattr(servicer, name, self._grpc_forwarding(name, getattr(servicer, name), is_local))
        events = servicer.StreamSessionEvents

        async def stream_events(request: Any, context: Any) -> AsyncIterator[Any]:
            owner = self._elsewhere(request.session_id, context, is_local)
            if owner is None:
                async for item in events(request, context):
                    yield item
                return
            async with self._channel(owner, context) as channel:
                await self._ready(channel, request.session_id, owner)
                stub = playback_pb2_grpc.PlaybackServiceStub(channel)
                try:
                    async for item in stub.StreamSessionEvents(request, metadata=((_HOP, "1"),)):
                        yield item
                except grpc.aio.AioRpcError as exc:
                    raise translate(exc, "playback") from None

        servicer.StreamSessionEvents = stream_events
        return servicer

    def _elsewhere(
        self, session_id: str, context: Any, is_local: Callable[[str], bool]
    ) -> Owner | None:
        if is_local(session_id) or any(k == _HOP for k, _ in context.invocation_metadata() or ()):
            return None
        return self.owner(session_id)

    def _channel(self, owner: Owner, context: Any) -> grpc.aio.Channel:
        bearer = bearer_of(context)
        return open_channel(owner.grpc_address, token=lambda: bearer, tls=self._tls)

    async def _ready(self, channel: grpc.aio.Channel, session_id: str, owner: Owner) -> None:
        try:
            await asyncio.wait_for(channel.channel_ready(), self.connect_timeout_s)
        except TimeoutError:
            why = f"no connection within {self.connect_timeout_s:g} s"
            raise self._unreachable(session_id, owner, why) from None

    def _grpc_forwarding(
        self,
        name: str,
        method: Callable[[Any, Any], Awaitable[Any]],
        is_local: Callable[[str], bool],
    ) -> Callable[[Any, Any], Awaitable[Any]]:
        async def routed(request: Any, context: Any) -> Any:
            owner = self._elsewhere(request.session_id, context, is_local)
            if owner is None:
                return await method(request, context)
            async with self._channel(owner, context) as channel:
                await self._ready(channel, request.session_id, owner)
                stub = playback_pb2_grpc.PlaybackServiceStub(channel)
                try:
                    return await getattr(stub, name)(request, metadata=((_HOP, "1"),), timeout=15)
                except grpc.aio.AioRpcError as exc:
                    raise translate(exc, "playback") from None

        return routed
