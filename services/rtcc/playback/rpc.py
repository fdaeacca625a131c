"""The gRPC PlaybackService: signalling for client apps, thin over SessionManager."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from aiortc.sdp import candidate_from_sdp
from google.protobuf.timestamp_pb2 import Timestamp

from rtcc.common.v1 import common_pb2
from rtcc.core.auth import current_principal
from rtcc.core.errors import InvalidArgument, ResourceExhausted
from rtcc.playback.ingest_source import from_timestamp, to_timestamp
from rtcc.playback.ratelimit import OfferRateLimiter
from rtcc.playback.sessions import Mode, PlaybackSession, SessionManager, SessionSpec
from rtcc.playback.v1 import playback_pb2 as pb
from rtcc.playback.v1 import playback_pb2_grpc

_MODES: dict[int, Mode] = {pb.SESSION_MODE_LIVE: "live", pb.SESSION_MODE_RECORDED: "recorded"}
_STATES = {
    "connecting": pb.SESSION_STATE_CONNECTING,
    "playing": pb.SESSION_STATE_PLAYING,
    "paused": pb.SESSION_STATE_PAUSED,
    "ended": pb.SESSION_STATE_ENDED,
    "closed": pb.SESSION_STATE_CLOSED,
}
_REASONS = {
    "client": pb.CLOSE_REASON_CLIENT,
    "access_revoked": pb.CLOSE_REASON_ACCESS_REVOKED,
    "connection_failed": pb.CLOSE_REASON_CONNECTION_FAILED,
    "server_shutdown": pb.CLOSE_REASON_SERVER_SHUTDOWN,
}


def session_proto(session: PlaybackSession) -> pb.Session:
    spec, feed = session.spec, session.feed
    message = pb.Session(
        id=session.id,
        camera_id=spec.camera_id,
        stream=spec.stream,  # type: ignore[arg-type]
        mode=pb.SESSION_MODE_LIVE if spec.mode == "live" else pb.SESSION_MODE_RECORDED,
        state=_STATES[session.effective_state],
        rate=feed.rate if feed else 0.0,
        create_time=to_timestamp(session.created),
    )
    if feed is not None and feed.position is not None:
        message.position.CopyFrom(to_timestamp(feed.position))
    return message


def _token(context: Any) -> str:
    metadata = dict(context.invocation_metadata() or ())
    return str(metadata.get("authorization", "")).partition(" ")[2].strip()


class PlaybackServicer(playback_pb2_grpc.PlaybackServiceServicer):
    def __init__(self, sessions: SessionManager, limiter: OfferRateLimiter) -> None:
        self._sessions = sessions
        self._limiter = limiter

    def _session(self, session_id: str) -> PlaybackSession:
        return self._sessions.get(session_id, current_principal())

    async def CreateSession(
        self, request: pb.CreateSessionRequest, context: Any
    ) -> pb.CreateSessionResponse:
        principal = current_principal()
        if not self._limiter.allow(principal.subject):
            raise ResourceExhausted("too many session offers; slow down")
        mode = _MODES.get(request.mode)
        if mode is None:
            raise InvalidArgument("mode must be LIVE or RECORDED", field="mode")
        if not request.camera_id:
            raise InvalidArgument("camera_id is required", field="camera_id")
        start = from_timestamp(request.start_time) if request.HasField("start_time") else None
        spec = SessionSpec(
            camera_id=request.camera_id, mode=mode, offer=request.sdp_offer,
            stream=request.stream, start=start, rate=request.rate or 1.0,
        )  # fmt: skip
        session, answer = await self._sessions.create(principal, _token(context), spec)
        return pb.CreateSessionResponse(session=session_proto(session), sdp_answer=answer)

    async def GetSession(
        self, request: pb.GetSessionRequest, context: Any
    ) -> pb.GetSessionResponse:
        return pb.GetSessionResponse(session=session_proto(self._session(request.session_id)))

    async def AddIceCandidate(
        self, request: pb.AddIceCandidateRequest, context: Any
    ) -> pb.AddIceCandidateResponse:
        session = self._session(request.session_id)
        line = request.candidate.candidate
        if line:
            try:
                candidate = candidate_from_sdp(line.removeprefix("candidate:"))
            except (ValueError, IndexError):
                raise InvalidArgument("not an ICE candidate line", field="candidate") from None
            candidate.sdpMid = request.candidate.sdp_mid or None
            candidate.sdpMLineIndex = request.candidate.sdp_mline_index
            await session.pc.addIceCandidate(candidate)
        return pb.AddIceCandidateResponse()

    async def Seek(self, request: pb.SeekRequest, context: Any) -> pb.SeekResponse:
        session = self._session(request.session_id)
        self._sessions.seek(session, from_timestamp(request.time))
        return pb.SeekResponse(session=session_proto(session))

    async def SetRate(self, request: pb.SetRateRequest, context: Any) -> pb.SetRateResponse:
        session = self._session(request.session_id)
        self._sessions.set_rate(session, request.rate)
        return pb.SetRateResponse(session=session_proto(session))

    async def Pause(self, request: pb.PauseRequest, context: Any) -> pb.PauseResponse:
        session = self._session(request.session_id)
        self._sessions.pause(session)
        return pb.PauseResponse(session=session_proto(session))

    async def Resume(self, request: pb.ResumeRequest, context: Any) -> pb.ResumeResponse:
        session = self._session(request.session_id)
        self._sessions.resume(session)
        return pb.ResumeResponse(session=session_proto(session))

    async def CloseSession(
        self, request: pb.CloseSessionRequest, context: Any
    ) -> pb.CloseSessionResponse:
        session = self._session(request.session_id)
        await self._sessions.close(session.id, "client")
        return pb.CloseSessionResponse()

    async def StreamSessionEvents(
        self, request: pb.StreamSessionEventsRequest, context: Any
    ) -> AsyncIterator[pb.StreamSessionEventsResponse]:
        """State changes and gaps as they are seen (checked each second), then the close."""
        session = self._session(request.session_id)
        last_state, gaps_sent = None, 0
        while True:
            state = session.effective_state
            if state == "closed":
                break
            if state != last_state:
                last_state = state
                yield _event(state_changed=pb.StateChangedEvent(session=session_proto(session)))
            gaps = session.feed.events.gaps if session.feed else []
            for gap in gaps[gaps_sent:]:
                span = pb.GapEvent(
                    gap=common_pb2.TimeRange(
                        start_time=to_timestamp(gap.start), end_time=to_timestamp(gap.end)
                    )
                )
                yield _event(gap=span)
            gaps_sent = len(gaps)
            try:
                await asyncio.wait_for(session.closed.wait(), 1.0)
            except TimeoutError:
                continue
        reason = _REASONS.get(session.close_reason, pb.CLOSE_REASON_UNSPECIFIED)
        yield _event(closed=pb.SessionClosedEvent(reason=reason, detail=session.close_reason))


def _event(**payload: Any) -> pb.StreamSessionEventsResponse:
    now = Timestamp()
    now.FromDatetime(dt.datetime.now(dt.UTC))
    return pb.StreamSessionEventsResponse(event_time=now, **payload)
