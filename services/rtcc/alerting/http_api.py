"""Alerting's HTTP routes: source intake, and the console's JSON API with live updates.

Sources (HMAC-signed, see ``signing``)::

    POST /alerting/sources/{source}/events     ShotSpotter XML | EIDO JSON | detector JSON
    POST /alerting/sources/{source}/heartbeat  an empty or JSON body: the feed is alive

Console (``Authorization: Bearer``; docs/alerting.md has the shapes)::

    GET  /api/alerts?state=open&after=SEQ       list (newest first)
    GET  /api/alerts/stream?after=SEQ           Server-Sent Events: one `alert` event per change
    GET  /api/alerts/{id}                       one alert
    GET  /api/alerts/{id}/context?purpose=…     cameras, reads, history, hits, holds
    POST /api/alerts/{id}/{acknowledge|assign|resolve|dismiss|notes}   JSON body
    GET  /api/hotlist-hits                      hits to verify
    POST /api/hotlist-hits/{id}/verify          {"confirmed": true, "note": "…"}
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from rtcc.alerting import convert, lifecycle
from rtcc.alerting.feeds import Intake
from rtcc.alerting.operations import READ_ROLES, AlertOperations, scope
from rtcc.alerting.store import AlertFilter
from rtcc.alerting.streaming import AlertFeed
from rtcc.clients import Caller
from rtcc.core.auth import Principal, TokenAuthority
from rtcc.core.errors import InvalidArgument, RtccError, Unauthenticated

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_STATUS = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
}
STATES = {name: value for value, name in lifecycle.STATE_NAMES.items()}
OUTCOMES = {"actioned": 1, "no_action": 2, "false_alarm": 3, "duplicate": 4}


def guard(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RtccError as exc:
            status = _STATUS.get(exc.code.name, 500)
            headers = {"Retry-After": "1"} if status in (429, 503) else None
            return web.json_response(
                {"error": exc.message, "field": exc.field}, status=status, headers=headers
            )

    return wrapped


class AlertingHttp:
    def __init__(
        self, intake: Intake, ops: AlertOperations, feed: AlertFeed, authority: TokenAuthority
    ) -> None:
        self.intake, self.ops, self.feed, self.authority = intake, ops, feed, authority

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/alerting/sources/{source}/events", guard(self.source_event)),
            ("POST", "/alerting/sources/{source}/heartbeat", guard(self.source_heartbeat)),
            ("GET", "/api/alerts", guard(self.list_alerts)),
            ("GET", "/api/alerts/stream", guard(self.stream)),
            ("GET", "/api/alerts/{alert_id}", guard(self.get_alert)),
            ("GET", "/api/alerts/{alert_id}/context", guard(self.context)),
            ("POST", "/api/alerts/{alert_id}/{action}", guard(self.action)),
            ("GET", "/api/hotlist-hits", guard(self.hits)),
            ("POST", "/api/hotlist-hits/{hit_id}/verify", guard(self.verify)),
        ]

    # -- sources ------------------------------------------------------------------------
    async def _signed(self, request: web.Request) -> tuple[Any, bytes]:
        source = self.intake.source(request.match_info["source"])
        limit = self.intake.settings.max_payload_bytes
        if (request.content_length or 0) > limit:
            raise InvalidArgument(f"the message is larger than {limit} bytes", field="body")
        body = await request.content.read(limit + 1)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.intake.authenticate(source, headers, body, time.time())
        return source, body

    async def source_event(self, request: web.Request) -> web.StreamResponse:
        source, body = await self._signed(request)
        received = await self.intake.receive(source, body, request.content_type)
        if received.heartbeat is not None:
            return web.json_response({"heartbeat": received.heartbeat.time.isoformat()})
        result = received.result
        assert result is not None
        return web.json_response(
            {
                "external_event_id": result.event.id,
                "duplicate": result.duplicate,
                "alert_id": result.alert.id if result.alert else "",
                "raw_sha256": result.event.raw_sha256,
            },
            status=200 if result.duplicate else 201,
        )

    async def source_heartbeat(self, request: web.Request) -> web.StreamResponse:
        source, _ = await self._signed(request)
        now = self.ops.engine.clock()
        await self.intake.watch.beat(source, now, heartbeat=True)
        return web.json_response({"heartbeat": now.isoformat()})

    # -- console --------------------------------------------------------------------------
    def _caller(self, request: web.Request) -> tuple[Principal, str]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() or request.query.get("access_token", "")  # EventSource: no headers
        if scheme.lower() != "bearer" and not request.query.get("access_token"):
            raise Unauthenticated("send Authorization: Bearer <token>")
        if not token:
            raise Unauthenticated("send Authorization: Bearer <token>")
        principal = self.authority.verify(token)
        principal.require_any_role(*READ_ROLES)
        return principal, token

    async def list_alerts(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        states = tuple(STATES[s] for s in request.query.getall("state", []) if s in STATES)
        org = scope(principal) or principal.org_id
        # The cursor first: a change committed while listing is then streamed again,
        # never lost.
        last = await self.ops.store.last_sequence()
        found = await self.ops.store.find(AlertFilter(org, states=states), 200)
        return web.json_response(
            {"alerts": [convert.alert_json(a) for a in found], "sequence": last}
        )

    async def get_alert(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        alert = await self.ops.store.get(request.match_info["alert_id"], scope(principal))
        return web.json_response(convert.alert_json(alert))

    async def context(self, request: web.Request) -> web.StreamResponse:
        principal, token = self._caller(request)
        ctx = await self.ops.context(
            principal,
            Caller.user(principal, token),
            request.match_info["alert_id"],
            request.query.get("purpose", ""),
        )
        return web.json_response(
            {
                "alert": convert.alert_json(ctx.alert),
                "cameras": ctx.cameras,
                "plate_reads": [_read_json(r) for r in ctx.reads],
                "prior_alerts": [convert.alert_json(a) for a in ctx.prior],
                "hotlist_hits": [_hit_json(h) for h in ctx.hits],
                "holds": [
                    {
                        "id": h.id,
                        "camera_id": h.camera_id,
                        "start": h.start_time.isoformat(),
                        "end": h.end_time.isoformat(),
                        "active": h.release_time is None,
                    }
                    for h in ctx.holds
                ],
            }
        )

    async def action(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        alert_id, action = request.match_info["alert_id"], request.match_info["action"]
        body = await _json_body(request)
        note, etag = str(body.get("note", "")), str(body.get("etag", ""))
        ops = self.ops
        if action == "acknowledge":
            alert = await ops.acknowledge(principal, alert_id, note, etag)
        elif action == "assign":
            alert = await ops.assign(
                principal,
                alert_id,
                str(body.get("assignee", "")),
                str(body.get("unit", "")),
                note,
                etag,
            )
        elif action == "resolve":
            outcome = OUTCOMES.get(str(body.get("outcome", "")), 0)
            alert = await ops.resolve(principal, alert_id, outcome, note, etag)
        elif action == "dismiss":
            alert = await ops.dismiss(principal, alert_id, str(body.get("reason", "")), etag)
        elif action == "notes":
            alert = await ops.note(principal, alert_id, str(body.get("text", "")))
        else:
            raise InvalidArgument(
                "action must be acknowledge, assign, resolve, dismiss or notes", field="action"
            )
        return web.json_response(convert.alert_json(alert))

    async def hits(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        found = await self.ops.hotlists.hits(principal.org_id, limit=200)
        return web.json_response({"hits": [_hit_json(h) for h in found]})

    async def verify(self, request: web.Request) -> web.StreamResponse:
        principal, _ = self._caller(request)
        body = await _json_body(request)
        hit = await self.ops.verify_hit(
            principal,
            request.match_info["hit_id"],
            body.get("confirmed") is True,
            str(body.get("note", "")),
        )
        return web.json_response(_hit_json(hit))

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events from a cursor: `id:` is the change sequence, so a browser's
        EventSource resumes with Last-Event-ID after a reconnect and loses nothing."""
        principal, _ = self._caller(request)
        after = request.headers.get("Last-Event-ID") or request.query.get("after", "0")
        try:
            cursor = int(after)
        except ValueError:
            raise InvalidArgument("after must be a change sequence number", field="after") from None
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        org = scope(principal)
        try:
            async for seq, change, alert in self.feed.follow(cursor, org):
                payload = json.dumps({"change": change, "alert": convert.alert_json(alert)})
                await response.write(f"id: {seq}\nevent: alert\ndata: {payload}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidArgument("the body must be a JSON object", field="body") from None
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object", field="body")
    return body


def _read_json(read: Any) -> dict[str, Any]:
    return {
        "id": read.id,
        "camera_id": read.camera_id,
        "plate": read.plate,
        "confidence": round(read.confidence, 3),
        "region": read.region,
        "read_time": read.read_time.ToDatetime().isoformat() + "Z",
        "has_snapshot": read.has_snapshot,
        "event_id": read.event_id,
    }


def _hit_json(hit: Any) -> dict[str, Any]:
    return {
        "id": hit.id,
        "hotlist_id": hit.hotlist_id,
        "plate_read_id": hit.plate_read_id,
        "read_plate": hit.read_plate,
        "camera_id": hit.camera_id,
        "read_time": hit.read_time.isoformat(),
        "entry": hit.entry,
        "match_type": "exact" if hit.match_type == 1 else "ocr_equivalent",
        "substitutions": hit.substitutions,
        "state": {1: "unverified", 2: "confirmed", 3: "rejected"}.get(hit.state, "?"),
        "verifier": hit.verifier_subject,
        "alert_id": hit.alert_id,
    }
