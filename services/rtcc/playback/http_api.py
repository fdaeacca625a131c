"""The playback target's HTTP routes: WHEP signalling, the console and its JSON API.

WHEP (draft-ietf-wish-whep): ``POST /whep/cameras/{camera_id}`` with an SDP offer
and ``Authorization: Bearer``; ``?start=<RFC3339>&speed=2`` asks for the recording.
The answer comes back with 201 and a ``Location`` to DELETE when done. Trickle ICE
is not offered: clients send their offer once gathering is complete.

Extension for video walls: ``POST /whep/wall?cameras=<id>,<id>...[&stream=sub]`` with
one offer holding a recvonly video section per camera (in the cameras' order) answers
one peer connection for the whole wall (wall.py). 201, the SDP answer, ``Location``
and ``X-Session-Id`` as for one camera, and ``X-Wall-Tiles``: a JSON list, per section,
of ``{"mid", "camera_id", "state": "playing"|"refused", "status", "error"}`` (a refused
tile's section is answered inactive; the others play).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from rtcc.clients.caller import Caller
from rtcc.core.auth import Principal, TokenAuthority
from rtcc.core.config import PlaybackSettings
from rtcc.core.errors import (
    InvalidArgument,
    ResourceExhausted,
    RtccError,
    Unauthenticated,
    Unavailable,
)
from rtcc.playback.investigate import AnalyticsSearch, event_request, plate_request
from rtcc.playback.ratelimit import OfferRateLimiter
from rtcc.playback.sessions import PlaybackSession, SessionManager, SessionSpec
from rtcc.playback.timeline import Timeline
from rtcc.playback.viewers import ViewerAccess
from rtcc.playback.wall import WallManager, WallSession, WallSpec, WallTile
from rtcc.playback.wallfeed import MAIN, SUB

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATIC = Path(__file__).parent / "static"
# Console views other services provide as static/<name>.js, by the target serving them.
CONSOLE_MODULES = {"alerts": "alerting", "cases": "evidence"}
# The (token, caller) the guard verified for the request being handled.
_VERIFIED: contextvars.ContextVar[tuple[str, Principal] | None] = contextvars.ContextVar(
    "rtcc_http_caller", default=None
)
_STATUS = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
}


def parse_time(value: str, name: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be an RFC 3339 time", field=name) from None
    if parsed.tzinfo is None:
        raise InvalidArgument(f"{name} needs a time zone (e.g. Z)", field=name)
    return parsed.astimezone(dt.UTC)


def parse_float(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be a number", field=name) from None


def session_json(session: PlaybackSession) -> dict[str, Any]:
    feed = session.feed
    return {
        "id": session.id,
        "camera_id": session.spec.camera_id,
        "mode": session.spec.mode,
        "delivery": session.delivery,
        "state": session.effective_state,
        "position": feed.position.isoformat() if feed and feed.position else None,
        "rate": feed.rate if feed else None,
        "gaps": [
            {"start": g.start.isoformat(), "end": g.end.isoformat()}
            for g in (feed.events.gaps if feed else [])
        ],
    }


def tile_json(tile: WallTile) -> dict[str, Any]:
    feed = tile.feed if tile.state == "playing" else None
    return {
        "mid": tile.mid,
        "camera_id": tile.camera_id,
        "state": tile.state,
        "status": _STATUS.get(tile.code, 500) if tile.code else 200,
        "error": tile.error,
        "delivery": tile.delivery,
        "stream": _STREAMS[feed.stream] if feed else None,
        "wanted": _STREAMS[feed.wanted] if feed else None,
    }


def wall_json(wall: WallSession) -> dict[str, Any]:
    return {
        "id": wall.id,
        "mode": "wall",
        "state": wall.state,
        "tiles": [tile_json(t) for t in wall.tiles],
    }


_STREAMS = {MAIN: "main", SUB: "sub"}


class PlaybackHttp:
    """aiohttp handlers; errors become status codes with a sentence, never a trace."""

    def __init__(
        self,
        sessions: SessionManager,
        authority: TokenAuthority,
        limiter: OfferRateLimiter,
        registry: ViewerAccess,
        timeline: Timeline,
        search: AnalyticsSearch | None = None,
        console: PlaybackSettings | None = None,
        modules: tuple[str, ...] = (),
        walls: WallManager | None = None,
    ) -> None:
        self._sessions = sessions
        self._walls = walls
        self._authority = authority
        self._limiter = limiter
        self._registry = registry
        self._timeline = timeline
        self._search = search
        self._console = console or PlaybackSettings()
        self._modules = modules

    def routes(self) -> list[tuple[str, str, Handler]]:
        guard = self._guard
        return [
            ("POST", "/whep/cameras/{camera_id}", guard(self.offer)),
            ("POST", "/whep/wall", guard(self.wall_offer)),
            ("DELETE", "/whep/sessions/{session_id}", guard(self.delete)),
            ("GET", "/api/sessions/{session_id}", guard(self.get_session)),
            ("POST", "/api/sessions/{session_id}/control", guard(self.control)),
            ("GET", "/api/cameras", guard(self.cameras)),
            ("GET", "/api/cameras/{camera_id}/recordings", guard(self.recordings)),
            ("GET", "/api/console", guard(self.console)),
            ("GET", "/api/events", guard(self.events)),
            ("GET", "/api/plates", guard(self.plates)),
            ("GET", "/api/{kind:events|plates}/{item_id}/snapshot", guard(self.snapshot)),
            ("GET", "/api/auth/config", self.auth_config),
            ("GET", "/", self.index),
            ("GET", "/static/{name:.+}", self.static),
        ]

    def _guard(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            verified = None
            try:
                verified = _VERIFIED.set(await self._authenticate(request))
                return await handler(request)
            except RtccError as exc:
                status = _STATUS.get(exc.code.name, 500)
                headers = {"Retry-After": "1"} if status == 429 else None
                return web.json_response({"error": exc.message}, status=status, headers=headers)
            finally:
                if verified is not None:
                    _VERIFIED.reset(verified)

        return wrapped

    async def _authenticate(self, request: web.Request) -> tuple[str, Principal] | None:
        """Verify a bearer token before the handler runs (this may fetch the identity
        provider's keys); handlers then read the caller with :meth:`_caller`."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip(), await self._authority.authenticate(token.strip())

    def _caller(self, request: web.Request) -> tuple[Principal, str]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("send Authorization: Bearer <token>")
        verified = _VERIFIED.get()
        if verified is not None and verified[0] == token.strip():
            return verified[1], verified[0]
        return self._authority.verify(token.strip()), token.strip()

    async def auth_config(self, _: web.Request) -> web.StreamResponse:
        """How the console signs in (unauthenticated: it is needed before sign-in)."""
        return web.json_response(self._authority.console_config())

    async def offer(self, request: web.Request) -> web.StreamResponse:
        principal, token = self._caller(request)
        if not self._limiter.allow(principal.subject):
            raise ResourceExhausted("too many session offers; slow down")
        query = request.query
        start = parse_time(query["start"], "start") if "start" in query else None
        spec = SessionSpec(
            camera_id=request.match_info["camera_id"],
            mode="recorded" if start else "live",
            offer=await request.text(),
            stream=2 if query.get("stream") == "sub" else 0,
            start=start,
            rate=parse_float(query.get("speed", "1"), "speed"),
        )
        session, answer = await self._sessions.create(principal, token, spec)
        return web.Response(
            status=201,
            text=answer,
            content_type="application/sdp",
            headers={"Location": f"/whep/sessions/{session.id}", "X-Session-Id": session.id},
        )

    async def wall_offer(self, request: web.Request) -> web.StreamResponse:
        """One peer connection for a whole wall of live tiles (see the module's doc)."""
        principal, token = self._caller(request)
        if self._walls is None:
            raise Unavailable("video walls are not served by this replica")
        if not self._limiter.allow(principal.subject):
            raise ResourceExhausted("too many session offers; slow down")
        query = request.query
        if "start" in query:
            raise InvalidArgument("a wall is live only; open recordings one by one",
                                  field="start")  # fmt: skip
        cameras = tuple(c for c in query.get("cameras", "").split(",") if c)
        stream = SUB if query.get("stream") == "sub" else MAIN
        spec = WallSpec(cameras, await request.text(), stream)
        wall, answer = await self._walls.create(principal, token, spec)
        tiles = [
            {k: v for k, v in tile_json(t).items() if k in ("mid", "camera_id", "state",
                                                             "status", "error")}
            for t in wall.tiles
        ]  # fmt: skip
        return web.Response(
            status=201,
            text=answer,
            content_type="application/sdp",
            headers={
                "Location": f"/whep/sessions/{wall.id}",
                "X-Session-Id": wall.id,
                "X-Wall-Tiles": json.dumps(tiles, separators=(",", ":")),  # ASCII only
            },
        )

    def _wall(self, session_id: str, principal: Principal) -> WallSession | None:
        if self._walls is None or session_id not in self._walls.walls:
            return None
        return self._walls.get(session_id, principal)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        session_id = request.match_info["session_id"]
        if (wall := self._wall(session_id, principal)) is not None and self._walls:
            await self._walls.close(wall.id, "client")
            return web.Response(status=200)
        session = self._sessions.get(session_id, principal)
        await self._sessions.close(session.id, "client")
        return web.Response(status=200)

    async def get_session(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        if (wall := self._wall(request.match_info["session_id"], principal)) is not None:
            return web.json_response(wall_json(wall))
        session = self._sessions.get(request.match_info["session_id"], principal)
        return web.json_response(session_json(session))

    async def _wall_control(self, wall: WallSession, body: dict[str, Any]) -> web.StreamResponse:
        assert self._walls is not None
        if body.get("action") != "stream":
            raise InvalidArgument("a wall's action is stream (mid, stream: main|sub)",
                                  field="action")  # fmt: skip
        stream = {"main": MAIN, "sub": SUB}.get(str(body.get("stream", "")))
        if stream is None:
            raise InvalidArgument("stream must be main or sub", field="stream")
        self._walls.set_stream(wall, str(body.get("mid", "")), stream)
        return web.json_response(wall_json(wall))

    async def control(self, request: web.Request) -> web.StreamResponse:
        """Pause, resume, seek or change the rate of a recorded session; move a wall's
        tile to the main or sub stream."""
        principal, _ = self._caller(request)
        wall = self._wall(request.match_info["session_id"], principal)
        body = await request.json()
        if wall is not None:
            return await self._wall_control(wall, body)
        session = self._sessions.get(request.match_info["session_id"], principal)
        action = str(body.get("action", ""))
        if action == "seek":
            self._sessions.seek(session, parse_time(str(body.get("time", "")), "time"))
        elif action == "rate":
            self._sessions.set_rate(session, parse_float(str(body.get("rate", "")), "rate"))
        elif action in ("pause", "resume"):
            self._sessions.pause(session) if action == "pause" else self._sessions.resume(session)
        else:
            raise InvalidArgument("action must be pause, resume, seek or rate", field="action")
        return web.json_response(session_json(session))

    async def cameras(self, request: web.Request) -> web.StreamResponse:
        _, token = self._caller(request)
        return web.json_response({"cameras": await self._registry.list_cameras(token)})

    async def recordings(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        query = request.query
        end = parse_time(query["end"], "end") if "end" in query else dt.datetime.now(dt.UTC)
        start = (
            parse_time(query["start"], "start") if "start" in query else end - dt.timedelta(hours=1)
        )
        spans = await self._timeline.spans(principal, request.match_info["camera_id"], start, end)
        return web.json_response(
            {"start": start.isoformat(), "end": end.isoformat(), "spans": spans}
        )

    async def console(self, request: web.Request) -> web.StreamResponse:
        """What the console needs to know: its basemap, and which services answer."""
        self._caller(request)
        basemap = self._console
        return web.json_response(
            {
                "basemap": {
                    "url": basemap.basemap_url,
                    "attribution": basemap.basemap_attribution,
                    "max_zoom": basemap.basemap_max_zoom,
                },
                "search": self._search is not None,
                # Views other services ship as static/<name>.js, when installed and served.
                "modules": [m for m in self._modules if (STATIC / f"{m}.js").is_file()],
            }
        )

    def _analytics(self) -> AnalyticsSearch:
        if self._search is None:
            raise Unavailable("search needs the analytics service, which is not configured")
        return self._search

    def _user(self, request: web.Request) -> Caller:
        principal, token = self._caller(request)
        return Caller.user(principal, token)

    async def events(self, request: web.Request) -> web.StreamResponse:
        caller = self._user(request)
        query = event_request(request.query, dt.datetime.now(dt.UTC))
        return web.json_response(await self._analytics().events(caller, query))

    async def plates(self, request: web.Request) -> web.StreamResponse:
        caller = self._user(request)
        query = plate_request(request.query, dt.datetime.now(dt.UTC))
        return web.json_response(await self._analytics().plates(caller, query))

    async def snapshot(self, request: web.Request) -> web.StreamResponse:
        caller = self._user(request)
        kind, item_id = request.match_info["kind"], request.match_info["item_id"]
        url = await self._analytics().snapshot_url(caller, kind, item_id)
        return web.json_response({"url": url})

    async def index(self, _: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers=_NO_STORE)

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        parts = name.split("/")
        path = STATIC.joinpath(*parts)
        if any(not p or p.startswith(".") for p in parts) or not _is_file(path):
            raise web.HTTPNotFound()
        # Vendored libraries change only with their lockfile; the console's own files
        # must be revalidated, or a browser keeps running an old console.
        cache = _IMMUTABLE if parts[0] == "vendor" else _NO_CACHE
        return web.FileResponse(path, headers=cache)


_NO_STORE = {"Cache-Control": "no-store"}
_NO_CACHE = {"Cache-Control": "no-cache"}
_IMMUTABLE = {"Cache-Control": "public, max-age=86400"}


def _is_file(path: Path) -> bool:
    """A file under static/; a name the file system refuses (too long) is none."""
    try:
        return path.is_file()
    except OSError:
        return False
