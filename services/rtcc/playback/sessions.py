"""Playback sessions: one aiortc peer connection each, fed live or recorded.

The :class:`SessionManager` is what both signalling front ends (WHEP over HTTP and
the gRPC PlaybackService) call. It checks access with the registry before a
session starts and again every few seconds while it runs, closing sessions whose
access ended or whose token expired; it closes sessions whose peer went away
(ICE consent lost) or never connected.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import structlog
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from rtcc.core.auth import Principal
from rtcc.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RtccError,
    Unavailable,
)
from rtcc.core.ids import new_id
from rtcc.playback.packets import PacketSource
from rtcc.playback.recorded import RecordedFeed, check_rate
from rtcc.playback.relay import RelayHub, Subscriber
from rtcc.playback.sdp import Delivery, choose_delivery, codec_preferences, parse_offer
from rtcc.playback.tracks import Feed, PassthroughTrack, TranscodeTrack
from rtcc.playback.viewers import AccessChecker, Polygon

log = structlog.get_logger("rtcc.playback.sessions")

Mode = Literal["live", "recorded"]
State = Literal["connecting", "playing", "paused", "ended", "closed"]


class Recordings(Protocol):
    """Where recorded video comes from (ingest's segment index and ReadRange)."""

    async def exists_from(self, camera_id: str, stream: int, start: dt.datetime) -> bool: ...

    def open(self, camera_id: str, stream: int, start: dt.datetime) -> PacketSource: ...


AuditWriter = Callable[[Principal, str, dict[str, object]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What a client asks for."""

    camera_id: str
    mode: Mode
    offer: str
    stream: int = 0
    start: dt.datetime | None = None
    rate: float = 1.0


@dataclass(eq=False)
class PlaybackSession:
    id: str
    spec: SessionSpec
    principal: Principal
    token: str
    pc: RTCPeerConnection
    delivery: Delivery
    created: dt.datetime
    feed: RecordedFeed | None
    release: Callable[[], Awaitable[None]] | None = None
    live: Subscriber | None = None
    state: State = "connecting"
    close_reason: str = ""
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def effective_state(self) -> State:
        if self.state == "playing" and self.live is not None and self.live.paused:
            return "paused"
        if self.state == "playing" and self.feed is not None:
            if self.feed.paused:
                return "paused"
            if self.feed.events.ended:
                return "ended"
        return self.state


@dataclass
class SessionOptions:
    recheck_s: float = 2.0
    connect_timeout_s: float = 20.0
    track_wait_s: float = 5.0


class SessionManager:
    """Every playback session of this process."""

    def __init__(
        self,
        *,
        access: AccessChecker,
        hub: RelayHub,
        recordings: Recordings,
        audit: AuditWriter,
        verify: Callable[[str], Principal],
        options: SessionOptions | None = None,
    ) -> None:
        self._access = access
        self._hub = hub
        self._recordings = recordings
        self._audit = audit
        self._verify = verify
        self.options = options or SessionOptions()
        self.sessions: dict[str, PlaybackSession] = {}
        # Session ids name the owning replica behind a load balancer (routing.py).
        self.new_session_id: Callable[[], str] = lambda: new_id("pbs")

    async def create(
        self, principal: Principal, token: str, spec: SessionSpec
    ) -> tuple[PlaybackSession, str]:
        """Check access, answer the offer and start sending; returns the SDP answer."""
        offer = parse_offer(spec.offer)
        await self._access.check(principal, spec.camera_id, spec.mode)
        session_id = self.new_session_id()
        if spec.mode == "live":
            feed, codec, release = await self._live_feed(spec)
            recorded = None
        else:
            recorded, codec = await self._recorded_feed(principal, spec, session_id)
            feed, release = recorded, recorded.close
        try:
            masks = await self._access.privacy_masks(spec.camera_id)
            delivery = choose_delivery(offer, codec, masked=bool(masks))
            pc, answer = await self._answer(spec.offer, feed, delivery, codec, masks)
        except BaseException:
            await release()
            raise
        session = PlaybackSession(
            session_id, spec, principal, token, pc, delivery,
            dt.datetime.now(dt.UTC), recorded, release,
        )  # fmt: skip
        session.live = feed if isinstance(feed, Subscriber) else None
        self.sessions[session_id] = session
        self._watch_connection(session)
        log.info(
            "session_created", session_id=session_id, camera_id=spec.camera_id,
            mode=spec.mode, delivery=delivery, org_id=principal.org_id,
        )  # fmt: skip
        return session, answer

    async def _live_feed(
        self, spec: SessionSpec
    ) -> tuple[Feed, str, Callable[[], Awaitable[None]]]:
        key = f"{spec.camera_id}/{spec.stream}"
        relay, sub = self._hub.subscribe(key)

        async def release() -> None:
            await self._hub.unsubscribe(key, sub)

        try:
            await asyncio.wait_for(relay.track_known.wait(), self.options.track_wait_s)
        except TimeoutError:
            await release()
            raise Unavailable(f"camera {spec.camera_id} is not streaming now") from None
        assert relay.track is not None
        return sub, relay.track.codec, release

    async def _recorded_feed(
        self, principal: Principal, spec: SessionSpec, session_id: str
    ) -> tuple[RecordedFeed, str]:
        if spec.start is None:
            raise InvalidArgument("recorded sessions need a start time", field="start_time")
        rate = check_rate(spec.rate)
        if not await self._recordings.exists_from(spec.camera_id, spec.stream, spec.start):
            raise NotFound(f"camera {spec.camera_id} has no recording at or after {spec.start}")
        # Written durably before any recorded video is sent.
        await self._audit(
            principal,
            spec.camera_id,
            {"session_id": session_id, "start": spec.start.isoformat(), "rate": rate},
        )
        camera, stream = spec.camera_id, spec.stream
        feed = RecordedFeed(lambda t: self._recordings.open(camera, stream, t), spec.start, rate)
        return feed, "h264"

    async def _answer(
        self, offer: str, feed: Feed, delivery: Delivery, codec: str, masks: list[Polygon]
    ) -> tuple[RTCPeerConnection, str]:
        # No STUN/TURN by default: nothing outside the platform is contacted (aiortc
        # would otherwise ask a public STUN server).
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        track: PassthroughTrack | TranscodeTrack = (
            PassthroughTrack(feed)
            if delivery == "passthrough"
            else TranscodeTrack(feed, codec, masks)
        )
        try:
            pc.addTrack(track)
            # Preferences go on BEFORE the remote offer, else aiortc settles on VP8.
            pc.getTransceivers()[0].setCodecPreferences(codec_preferences(delivery))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except RtccError:
            await pc.close()
            raise
        except Exception as exc:
            await pc.close()
            raise InvalidArgument(f"cannot answer this offer: {exc}", field="sdp_offer") from None
        return pc, pc.localDescription.sdp

    def _watch_connection(self, session: PlaybackSession) -> None:
        watch_connection(session, self.close)

    def get(self, session_id: str, principal: Principal) -> PlaybackSession:
        return owned(self.sessions.get(session_id), session_id, principal)

    def _recorded(self, session: PlaybackSession) -> RecordedFeed:
        if session.feed is None:
            raise FailedPrecondition("live sessions cannot seek or change speed")
        return session.feed

    def seek(self, session: PlaybackSession, instant: dt.datetime) -> None:
        self._recorded(session).seek(instant)

    def set_rate(self, session: PlaybackSession, rate: float) -> None:
        self._recorded(session).set_rate(rate)

    def pause(self, session: PlaybackSession) -> None:
        if session.live is not None:
            session.live.pause()
        else:
            self._recorded(session).pause()

    def resume(self, session: PlaybackSession) -> None:
        if session.live is not None:
            session.live.resume()
        else:
            self._recorded(session).resume()

    async def close(self, session_id: str, reason: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        session.state = "closed"
        session.close_reason = reason
        session.closed.set()
        log.info("session_closed", session_id=session_id, reason=reason)
        if session.release is not None:
            await session.release()
        await session.pc.close()

    async def close_all(self, reason: str = "server_shutdown") -> None:
        for session_id in list(self.sessions):
            await self.close(session_id, reason)

    async def recheck_once(self) -> None:
        """Close sessions that lost access, whose token expired or never connected."""
        now = dt.datetime.now(dt.UTC)
        for session in list(self.sessions.values()):
            reason = await self._still_allowed(session)
            too_slow = (now - session.created).total_seconds() > self.options.connect_timeout_s
            if reason is None and session.state == "connecting" and too_slow:
                reason = "connection_failed"
            if reason is not None:
                await self.close(session.id, reason)

    async def _still_allowed(self, session: PlaybackSession) -> str | None:
        try:
            self._verify(session.token)
            await self._access.check(session.principal, session.spec.camera_id, session.spec.mode)
        except (PermissionDenied, NotFound):
            return "access_revoked"
        except RtccError as exc:
            if exc.code.name == "UNAUTHENTICATED":
                return "access_revoked"
            log.warning("access_recheck_failed", session_id=session.id, error=str(exc))
        return None

    async def recheck_loop(self) -> None:
        """Owned by the runtime: runs until cancelled."""
        while True:
            await asyncio.sleep(self.options.recheck_s)  # a period, not a synchronisation
            try:
                await self.recheck_once()
            except Exception:
                log.exception("session_recheck_failed")


class _Connected(Protocol):
    id: str
    state: Any  # each kind of session has its own Literal of states
    principal: Principal
    pc: RTCPeerConnection


_S = TypeVar("_S", bound=_Connected)


def watch_connection(session: _Connected, close: Callable[[str, str], Awaitable[None]]) -> None:
    """A session (one camera or a wall) plays once connected; a failed or closed
    connection ends it."""

    @session.pc.on("connectionstatechange")
    async def _changed() -> None:
        state = session.pc.connectionState
        if state == "connected" and session.state == "connecting":
            session.state = "playing"
        elif state in ("failed", "closed") and session.state != "closed":
            await close(session.id, "connection_failed")


def owned(session: _S | None, session_id: str, principal: Principal) -> _S:
    """A session of this caller; others' sessions are NOT_FOUND. A session belongs to
    (organisation, subject): same-named users of two organisations are two people."""
    owner = (session.principal.org_id, session.principal.subject) if session else None
    if session is None or owner != (principal.org_id, principal.subject):
        raise NotFound(f"no session {session_id}")
    return session
