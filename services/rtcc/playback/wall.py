"""Video walls: one peer connection carries every tile of a wall.

``POST /whep/wall?cameras=a,b,...`` (http_api.py) sends one SDP offer with a
receive-only video section per tile; the n-th section, in m-line order, shows the n-th
camera. One ICE and DTLS handshake then serves the whole wall instead of one per tile,
and one offer instead of sixteen queued behind the browser's six requests per host.

Each tile's access is checked exactly as a single session's (the registry's live-video
decision, re-checked every few seconds while the wall plays). A tile the viewer may
not see, or whose camera is not streaming, is refused alone: its section is answered
``inactive`` and its reason is given per tile; the other tiles play. A tile whose
access ends later stops alone. A wall is live only; its id is a session id (routing.py
finds its replica), ``DELETE /whep/sessions/{id}`` ends it.

A layout change is a new wall, opened before the old one is closed (the relays, and
their cached GOPs, stay subscribed in between): aiortc cannot reject or recycle
m-sections in a re-offer, and a new offer costs one round trip and one handshake.
Moving a tile between main and sub stream needs no signalling at all (wallfeed.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from rtcc.core.auth import Principal
from rtcc.core.errors import InvalidArgument, NotFound, PermissionDenied, RtccError, Unavailable
from rtcc.playback.relay import RelayHub
from rtcc.playback.sdp import (
    Delivery,
    codec_preferences,
    parse_wall_offer,
    wall_delivery,
    wall_family,
)
from rtcc.playback.sessions import owned, watch_connection
from rtcc.playback.tracks import PassthroughTrack, TranscodeTrack
from rtcc.playback.viewers import AccessChecker, Polygon
from rtcc.playback.wallfeed import MAIN, SUB, CatchUpPacer, SendBudget, TileFeed

log = structlog.get_logger("rtcc.playback.wall")

TileState = Literal["playing", "refused", "ended"]
WallState = Literal["connecting", "playing", "closed"]


@dataclass(frozen=True, slots=True)
class WallSpec:
    """What a client asks for: cameras in its offer's section order, and which stream
    its tiles want (MAIN, or SUB for small tiles)."""

    camera_ids: tuple[str, ...]
    offer: str
    stream: int = MAIN


@dataclass(eq=False)
class WallTile:
    mid: str
    camera_id: str
    state: TileState = "playing"
    code: str = ""  # the refusal's status name (PERMISSION_DENIED, UNAVAILABLE...)
    error: str = ""
    delivery: Delivery | None = None
    feed: TileFeed | None = None
    track: PassthroughTrack | TranscodeTrack | None = None  # on the section named mid
    masks: list[Polygon] = field(default_factory=list)

    def refuse(self, exc: RtccError) -> None:
        self.state, self.code, self.error = "refused", exc.code.name, exc.message


@dataclass(eq=False)
class WallSession:
    id: str
    principal: Principal
    token: str
    pc: RTCPeerConnection
    tiles: list[WallTile]
    created: dt.datetime
    state: WallState = "connecting"
    close_reason: str = ""
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def tile(self, mid: str) -> WallTile:
        for tile in self.tiles:
            if tile.mid == mid:
                return tile
        raise InvalidArgument(f"wall {self.id} has no tile with mid {mid!r}", field="mid")


@dataclass
class WallOptions:
    track_wait_s: float = 5.0
    connect_timeout_s: float = 20.0
    catch_up_speed: float = 4.0  # the cached GOP is sent at 4x real time after its keyframe
    switch_wait_s: float = 15.0  # how long a tile waits for the sub stream's first keyframe
    send_rate: float = 8e6  # bytes/s a wall's connection sends at most beyond its burst
    send_burst: float = 128 * 1024
    hold_for_sub: bool = True  # a small tile shows a still main keyframe until its sub stream


class WallManager:
    """Every wall of this process."""

    def __init__(
        self,
        *,
        access: AccessChecker,
        hub: RelayHub,
        verify: Callable[[str], Principal],
        new_session_id: Callable[[], str],
        options: WallOptions | None = None,
    ) -> None:
        self._access = access
        self._hub = hub
        self._verify = verify
        self.new_session_id = new_session_id
        self.options = options or WallOptions()
        self.walls: dict[str, WallSession] = {}

    async def create(
        self, principal: Principal, token: str, spec: WallSpec
    ) -> tuple[WallSession, str]:
        """Open every tile it may, answer the offer; refused tiles are answered inactive."""
        sections = parse_wall_offer(spec.offer, spec.camera_ids)
        family = wall_family(sections)
        tiles = [WallTile(s.mid, s.camera_id) for s in sections]
        budget = SendBudget(self.options.send_rate, self.options.send_burst)
        await asyncio.gather(
            *(self._open(principal, t, family, spec.stream, budget) for t in tiles)
        )
        try:
            if all(t.feed is None for t in tiles):
                first = tiles[0]
                raise _refusal(first.code, f"no tile of this wall can be shown: {first.error}")
            pc, answer = await self._answer(spec.offer, tiles, family)
        except BaseException:
            await asyncio.gather(*(t.feed.close() for t in tiles if t.feed is not None))
            raise
        wall = WallSession(self.new_session_id(), principal, token, pc, tiles,
                           dt.datetime.now(dt.UTC))  # fmt: skip
        self.walls[wall.id] = wall
        self._watch_connection(wall)
        log.info(
            "wall_created", session_id=wall.id, tiles=len(tiles), org_id=principal.org_id,
            refused=sum(t.state == "refused" for t in tiles),
        )  # fmt: skip
        return wall, answer

    async def _open(
        self, principal: Principal, tile: WallTile, family: str, stream: int, budget: SendBudget
    ) -> None:
        try:
            await self._access.check(principal, tile.camera_id, "live")
            # The masks (a registry call) are fetched while the feed waits for its track.
            masks = asyncio.ensure_future(self._access.privacy_masks(tile.camera_id))
            masks.add_done_callback(_retrieved)
            try:
                feed = await self._feed(tile.camera_id, stream, budget)
            except BaseException:
                masks.cancel()
                raise
            try:
                tile.masks = await masks
            except BaseException:
                await feed.close()
                raise
            tile.feed = feed
            tile.delivery = wall_delivery("vp8" if family == "vp8" else "h264", feed.codec,
                                          bool(tile.masks))  # fmt: skip
        except RtccError as exc:
            tile.refuse(exc)

    async def _feed(self, camera_id: str, stream: int, budget: SendBudget) -> TileFeed:
        """Start where a picture comes at once: the sub stream if it is relayed with a
        keyframe cached, else the main stream (and move to the sub stream later)."""
        start = SUB if stream == SUB and self._hub.cached(f"{camera_id}/{SUB}") else MAIN
        key = f"{camera_id}/{start}"
        relay, sub = self._hub.subscribe(key)
        try:
            await asyncio.wait_for(relay.track_known.wait(), self.options.track_wait_s)
        except TimeoutError:
            await self._hub.unsubscribe(key, sub)
            raise Unavailable(f"camera {camera_id} is not streaming now") from None
        assert relay.track is not None
        feed = TileFeed(
            self._hub, camera_id, start, sub, codec=relay.track.codec,
            pacer=CatchUpPacer(self.options.catch_up_speed), budget=budget,
            hold=self.options.hold_for_sub and start != stream,
            switch_wait_s=self.options.switch_wait_s,
        )  # fmt: skip
        feed.want(stream)
        return feed

    async def _answer(
        self, offer: str, tiles: list[WallTile], family: str
    ) -> tuple[RTCPeerConnection, str]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: nothing outside
        preferences = codec_preferences("vp8" if family == "vp8" else "passthrough")
        try:
            # Preferences go on BEFORE the remote offer, else aiortc settles on VP8. Every
            # transceiver is alike until the offer gives it a mid; tracks go on by mid.
            for _ in tiles:
                pc.addTransceiver("video", direction="sendonly").setCodecPreferences(preferences)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            by_mid = {t.mid: t for t in pc.getTransceivers()}
            for tile in tiles:
                transceiver = by_mid[tile.mid]
                if tile.feed is None:
                    transceiver.direction = "inactive"
                    continue
                tile.track = (
                    PassthroughTrack(tile.feed)
                    if tile.delivery == "passthrough"
                    else TranscodeTrack(tile.feed, tile.feed.codec, tile.masks)
                )
                transceiver.sender.replaceTrack(tile.track)
            await pc.setLocalDescription(await pc.createAnswer())
        except RtccError:
            await pc.close()
            raise
        except Exception as exc:
            await pc.close()
            raise InvalidArgument(f"cannot answer this offer: {exc}", field="sdp_offer") from None
        return pc, pc.localDescription.sdp

    def _watch_connection(self, wall: WallSession) -> None:
        watch_connection(wall, self.close)

    def get(self, session_id: str, principal: Principal) -> WallSession:
        """A wall of this caller (organisation, subject); others' are NOT_FOUND."""
        return owned(self.walls.get(session_id), session_id, principal)

    def set_stream(self, wall: WallSession, mid: str, stream: int) -> WallTile:
        """Move one tile to the main or sub stream, at that stream's next keyframe."""
        tile = wall.tile(mid)
        if tile.feed is None or tile.state != "playing":
            raise InvalidArgument(f"tile {mid} of wall {wall.id} is not playing", field="mid")
        tile.feed.want(stream)
        return tile

    async def close(self, session_id: str, reason: str) -> None:
        wall = self.walls.pop(session_id, None)
        if wall is None:
            return
        wall.state, wall.close_reason = "closed", reason
        wall.closed.set()
        log.info("wall_closed", session_id=session_id, reason=reason)
        await asyncio.gather(*(t.feed.close() for t in wall.tiles if t.feed is not None))
        await wall.pc.close()

    async def close_all(self, reason: str = "server_shutdown") -> None:
        for session_id in list(self.walls):
            await self.close(session_id, reason)

    async def recheck_once(self) -> None:
        """End tiles that lost access; close walls whose token expired, that never
        connected, or that have no tile left to show."""
        now = dt.datetime.now(dt.UTC)
        for wall in list(self.walls.values()):
            try:
                self._verify(wall.token)
            except RtccError:
                await self.close(wall.id, "access_revoked")
                continue
            too_slow = (now - wall.created).total_seconds() > self.options.connect_timeout_s
            if wall.state == "connecting" and too_slow:
                await self.close(wall.id, "connection_failed")
                continue
            for tile in wall.tiles:
                if tile.state == "playing" and not await self._still_allowed(wall, tile):
                    await self._end_tile(tile)
            if not any(t.state == "playing" for t in wall.tiles):  # nothing left to show
                await self.close(wall.id, "access_revoked")

    async def _still_allowed(self, wall: WallSession, tile: WallTile) -> bool:
        try:
            await self._access.check(wall.principal, tile.camera_id, "live")
        except (PermissionDenied, NotFound):
            return False
        except RtccError as exc:
            log.warning("access_recheck_failed", session_id=wall.id, error=str(exc))
        return True

    async def _end_tile(self, tile: WallTile) -> None:
        tile.state, tile.code = "ended", "PERMISSION_DENIED"
        tile.error = f"access to camera {tile.camera_id} ended"
        if tile.feed is not None:
            await tile.feed.close()

    async def recheck_loop(self, every_s: float) -> None:
        """Owned by the runtime: runs until cancelled."""
        while True:
            await asyncio.sleep(every_s)  # a period, not a synchronisation
            try:
                await self.recheck_once()
            except Exception:
                log.exception("wall_recheck_failed")


def _refusal(code: str, message: str) -> RtccError:
    kinds: dict[str, type[RtccError]] = {
        "PERMISSION_DENIED": PermissionDenied, "NOT_FOUND": NotFound, "UNAVAILABLE": Unavailable,
    }  # fmt: skip
    return kinds.get(code, PermissionDenied)(message)


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Mark a side task's outcome as seen (its error is raised where it is awaited)."""
    if not task.cancelled():
        task.exception()
