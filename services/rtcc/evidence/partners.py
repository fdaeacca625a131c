"""Evidence requests to partners (a business, another agency): an investigator asks
for camera(s) and a time range; the partner's contact gets a one-time link by mail.

Through the link the partner approves (the platform exports the clips from its own
recordings of the partner's cameras), declines with a reason, or uploads files (the
page computes each file's SHA-256 before sending; the server checks it). Approving,
declining or finishing an upload uses the link up; afterwards, or past its expiry, it
answers 410. A partner organisation's admins can answer over gRPC as well.

    GET  /evidence/r/{token}             the request's page
    POST /evidence/r/{token}/approve     export the clips asked for
    POST /evidence/r/{token}/decline     form field `reason`
    POST /evidence/r/{token}/files       body = the file; headers X-File-Name, X-Content-SHA256
    POST /evidence/r/{token}/finish      the uploads are complete
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.engine import Row

from rtcc.common import paging
from rtcc.common import time as wire_time
from rtcc.core.auth import Principal
from rtcc.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RtccError,
)
from rtcc.core.ids import new_id
from rtcc.evidence import convert, custody_store, links, policy, store, tables
from rtcc.evidence.context import EvidenceContext
from rtcc.evidence.exports_api import queue_clip
from rtcc.evidence.items_api import add_uploaded
from rtcc.evidence.mail import check_address
from rtcc.evidence.sharing import _page, refusal
from rtcc.evidence.v1 import evidence_pb2 as pb

_R = tables.evidence_requests
REQUEST_UPDATED = 13
PENDING, APPROVED, DECLINED, CANCELLED, EXPIRED = 1, 2, 3, 4, 5
APPROVE, DECLINE = 1, 2
PAGE = Path(__file__).with_name("partner.html")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _get(ctx: EvidenceContext, request_id: str) -> Row[Any]:
    if not request_id:
        raise InvalidArgument("evidence_request_id is required", field="evidence_request_id")
    async with ctx.cases.db.transaction(readonly=True) as conn:
        row = (await conn.execute(sa.select(_R).where(_R.c.id == request_id))).first()
    if row is None:
        raise NotFound(f"evidence request {request_id} does not exist")
    return row


def _state(row: Row[Any], now: dt.datetime) -> int:
    if row.state == PENDING and row.link_expire_time <= now:
        return EXPIRED
    return int(row.state)


async def create(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.CreateEvidenceRequestResponse:
    policy.require_writer(who)
    ask = request.evidence_request
    case = await ctx.visible_case(who, ask.case_id)
    if not ask.partner_organization_id and not ask.partner_contact_email:
        raise InvalidArgument(
            "name the partner: partner_organization_id, partner_contact_email or both",
            field="evidence_request.partner_contact_email",
        )
    email = (
        check_address(ask.partner_contact_email, "evidence_request.partner_contact_email")
        if ask.partner_contact_email
        else ""
    )
    if not ask.clips:
        raise InvalidArgument(
            "ask for at least one camera and time range", field="evidence_request.clips"
        )
    if not ask.reason.strip():
        raise InvalidArgument(
            "say why the video is needed (reason)", field="evidence_request.reason"
        )
    clips = [convert.stored_clip(convert.clip_json(c)) for c in ask.clips]
    now = _now()
    due = wire_time.to_datetime(ask.due_time) if ask.HasField("due_time") else None
    if due is not None and due <= now:
        raise InvalidArgument("due_time must be in the future", field="evidence_request.due_time")
    link_end = now + dt.timedelta(days=ctx.settings.partner_link_days)
    link_end = min(link_end, due) if due else link_end
    token, request_id = links.new_token(), new_id("evr")
    values = {
        "id": request_id, "case_id": case.id, "requester_organization_id": case.organization_id,
        "partner_organization_id": ask.partner_organization_id, "partner_contact_email": email,
        "clips": clips, "reason": ask.reason.strip()[:2000], "due_time": due, "state": PENDING,
        "decision": 0, "approved_clips": [], "response_note": "", "item_ids": [],
        "creator_subject": who.subject, "creator_org_id": who.org_id, "responder_subject": "",
        "responder_org_id": "", "create_time": now, "respond_time": None,
        "etag": store.etag(), "token_hash": links.token_hash(token), "link_expire_time": link_end,
    }  # fmt: skip
    cameras = ", ".join(sorted({c["camera_id"] for c in clips}))
    async with ctx.cases.db.transaction() as conn:
        await conn.execute(_R.insert().values(**values))
        await custody_store.append(
            conn, case.id, REQUEST_UPDATED, ctx.actor(who), now,
            detail=f"evidence request {request_id} sent to {ask.partner_organization_id or email} "
            f"for cameras {cameras}",
        )  # fmt: skip
    if email:
        url = f"{ctx.public_url}/evidence/r/{token}"
        ranges = "\n".join(f"  camera {c['camera_id']}: {c['start']} to {c['end']}" for c in clips)
        await ctx.mailer.send(
            email,
            f"Request for recorded video (case {case.case_number or case.id})",
            f"{who.subject} asks for recorded video:\n{ranges}\n\nReason: {values['reason']}\n\n"
            f"Answer (approve, decline, or upload files) here: {url}\n\nThe link can be used "
            f"once and works until {link_end.isoformat()}.",
        )
    return pb.CreateEvidenceRequestResponse(
        evidence_request=convert.evidence_request(await _get(ctx, request_id))
    )


def _is_partner(who: Principal, row: Row[Any]) -> bool:
    return bool(row.partner_organization_id) and (
        who.org_id == row.partner_organization_id or "platform-admin" in who.roles
    )


async def _visible(ctx: EvidenceContext, who: Principal, request_id: str) -> Row[Any]:
    row = await _get(ctx, request_id)
    if _is_partner(who, row):
        return row
    try:
        await ctx.visible_case(who, row.case_id)
    except NotFound:
        raise NotFound(f"evidence request {request_id} does not exist") from None
    return row


async def get(ctx: EvidenceContext, who: Principal, request: Any) -> pb.GetEvidenceRequestResponse:
    row = await _visible(ctx, who, request.evidence_request_id)
    return pb.GetEvidenceRequestResponse(evidence_request=_message(row))


def _message(row: Row[Any]) -> pb.EvidenceRequest:
    message = convert.evidence_request(row)
    message.state = _state(row, _now())  # type: ignore[assignment]
    return message


async def list_requests(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.ListEvidenceRequestsResponse:
    size = paging.page_size(request.page_size)
    offset = (
        int(paging.decode_token(request.page_token, "requests", 1)[0]) if request.page_token else 0
    )
    sent = _R.c.requester_organization_id == who.org_id
    received = _R.c.partner_organization_id == who.org_id
    where = {1: sent, 2: received}.get(request.direction, sa.or_(sent, received))
    query = sa.select(_R).where(where).order_by(_R.c.create_time.desc())
    if request.case_id:
        query = query.where(_R.c.case_id == request.case_id)
    async with ctx.cases.db.transaction(readonly=True) as conn:
        rows = (await conn.execute(query)).all()
    now, wanted = _now(), set(request.states)
    visible = []
    for row in rows:
        if wanted and _state(row, now) not in wanted:
            continue
        if row.requester_organization_id == who.org_id and not _is_partner(who, row):
            case = await ctx.cases.get_case(row.case_id) if row.case_id else None
            if case is None or not policy.can_see(
                who, case.organization_id, case.creator_subject, case.members
            ):
                continue
        visible.append(row)
    page = visible[offset : offset + size]
    token = paging.encode_token("requests", offset + size) if len(visible) > offset + size else ""
    return pb.ListEvidenceRequestsResponse(
        evidence_requests=[_message(r) for r in page], next_page_token=token
    )


async def respond(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.RespondToEvidenceRequestResponse:
    row = await _get(ctx, request.evidence_request_id)
    if not _is_partner(who, row) or not policy.is_admin(who, row.partner_organization_id):
        raise PermissionDenied(
            f"only an admin (partner-admin) of {row.partner_organization_id or 'the partner'} "
            "answers this request"
        )
    if request.etag and request.etag != row.etag:
        raise FailedPrecondition("the request changed since you read it (stale etag)")
    approved = [convert.stored_clip(convert.clip_json(c)) for c in request.approved_clips]
    actor = custody_store.Actor(who.subject, who.org_id)
    await answer(ctx, row, request.decision, request.note, approved, actor)
    return pb.RespondToEvidenceRequestResponse(evidence_request=_message(await _get(ctx, row.id)))


def _within(clip: dict[str, Any], asked: list[dict[str, Any]]) -> bool:
    return any(
        a["camera_id"] == clip["camera_id"]
        and a["start"] <= clip["start"]
        and clip["end"] <= a["end"]
        for a in asked
    )


async def answer(
    ctx: EvidenceContext,
    row: Row[Any],
    decision: int,
    note: str,
    approved: list[dict[str, Any]],
    actor: custody_store.Actor,
) -> None:
    """Approve (exporting the clips into the case) or decline a pending request."""
    if _state(row, _now()) != PENDING:
        raise FailedPrecondition(f"evidence request {row.id} is no longer pending")
    if decision not in (APPROVE, DECLINE):
        raise InvalidArgument("decision must be APPROVE or DECLINE", field="decision")
    if decision == DECLINE and not note.strip():
        raise InvalidArgument("say why the request is declined (note)", field="note")
    item_ids: list[str] = []
    if decision == APPROVE:
        approved = approved or list(row.clips)
        if not all(_within(c, list(row.clips)) for c in approved):
            raise InvalidArgument(
                "each approved clip must lie within one asked for", field="approved_clips"
            )
        item_ids = await _export(ctx, row, approved, actor)
    await _close(ctx, row, APPROVED if decision == APPROVE else DECLINED, decision, note,
                 approved if decision == APPROVE else [], item_ids, actor)  # fmt: skip


async def _export(
    ctx: EvidenceContext, row: Row[Any], approved: list[dict[str, Any]], actor: custody_store.Actor
) -> list[str]:
    if not row.partner_organization_id:
        raise FailedPrecondition(
            "the platform exports only from cameras of a partner organisation it knows; this "
            "partner has no organisation here, so upload the files instead"
        )
    case = await ctx.cases.get_case(row.case_id)
    item_ids = []
    for clip in approved:
        camera = await ctx.clients.registry.get_camera(clip["camera_id"])
        if camera.organization_id != row.partner_organization_id:
            raise PermissionDenied(
                f"camera {clip['camera_id']} is not {row.partner_organization_id}'s; a partner "
                "approves only its own cameras"
            )
        parsed = {**clip, "start": dt.datetime.fromisoformat(clip["start"]),
                  "end": dt.datetime.fromisoformat(clip["end"])}  # fmt: skip
        _, item_id = await queue_clip(
            ctx, case, parsed, "", f"provided by {row.partner_organization_id} ({row.id})", actor
        )
        item_ids.append(item_id)
    return item_ids


async def _close(
    ctx: EvidenceContext, row: Row[Any], state: int, decision: int, note: str,
    approved: list[dict[str, Any]], item_ids: list[str], actor: custody_store.Actor,
) -> None:  # fmt: skip
    now = _now()
    async with ctx.cases.db.transaction() as conn:
        done = await conn.execute(
            _R.update()
            .where(_R.c.id == row.id, _R.c.state == PENDING)
            .values(
                state=state,
                decision=decision,
                response_note=note.strip()[:2000],
                approved_clips=approved,
                item_ids=[*row.item_ids, *item_ids],
                responder_subject=actor.subject,
                responder_org_id=actor.org_id,
                respond_time=now,
                etag=store.etag(),
                token_hash="",
            )
        )
        if done.rowcount == 0:
            raise FailedPrecondition(f"evidence request {row.id} is no longer pending")
        words = {APPROVED: "approved", DECLINED: "declined", CANCELLED: "cancelled"}[state]
        await custody_store.append(
            conn, row.case_id, REQUEST_UPDATED, actor, now,
            detail=f"evidence request {row.id} {words}"
            + (f": {note.strip()}" if note.strip() else ""),
        )  # fmt: skip


async def cancel(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.CancelEvidenceRequestResponse:
    policy.require_writer(who)
    row = await _get(ctx, request.evidence_request_id)
    await ctx.visible_case(who, row.case_id)
    await _close(ctx, row, CANCELLED, 0, request.reason, [], [], ctx.actor(who))
    return pb.CancelEvidenceRequestResponse(evidence_request=_message(await _get(ctx, row.id)))


# --- the partner's link (HTTP) -----------------------------------------------------


class PartnerHttp:
    def __init__(self, ctx: EvidenceContext) -> None:
        self.ctx = ctx

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/evidence/r/{token}", self.page),
            ("POST", "/evidence/r/{token}/approve", self.approve),
            ("POST", "/evidence/r/{token}/decline", self.decline),
            ("POST", "/evidence/r/{token}/files", self.upload),
            ("POST", "/evidence/r/{token}/finish", self.finish),
        ]

    async def _request(self, token: str) -> Row[Any] | web.Response:
        async with self.ctx.cases.db.transaction(readonly=True) as conn:
            row = (
                await conn.execute(sa.select(_R).where(_R.c.token_hash == links.token_hash(token)))
            ).first()
        if row is None:
            return refusal(410, "This link was already used or is not valid: each request link "
                                "works once. Contact the agency that sent it.")  # fmt: skip
        if _state(row, _now()) != PENDING:
            return refusal(410, f"This link expired on {row.link_expire_time:%Y-%m-%d %H:%M} UTC.")
        return row

    def _actor(self, row: Row[Any]) -> custody_store.Actor:
        who = row.partner_contact_email or row.partner_organization_id
        return custody_store.Actor(f"partner:{who}", row.partner_organization_id)

    async def _guard(self, request: web.Request, run: Any) -> web.StreamResponse:
        row = await self._request(request.match_info["token"])
        if isinstance(row, web.Response):
            return row
        try:
            return await run(row)  # type: ignore[no-any-return]
        except RtccError as exc:
            status = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 409, "PERMISSION_DENIED": 403,
                      "NOT_FOUND": 404}.get(exc.code.name, 503)  # fmt: skip
            return web.json_response({"error": exc.message}, status=status)

    async def page(self, request: web.Request) -> web.StreamResponse:
        async def run(row: Row[Any]) -> web.StreamResponse:
            clips = "".join(
                f"<li>camera <code>{html.escape(c['camera_id'])}</code>: {html.escape(c['start'])} "
                f"to {html.escape(c['end'])}</li>"
                for c in row.clips
            )
            text = (
                PAGE.read_text()
                .replace("__CLIPS__", clips)
                .replace("__REASON__", html.escape(row.reason))
                .replace("__EXPIRES__", f"{row.link_expire_time:%Y-%m-%d %H:%M} UTC")
                .replace("__BASE__", f"/evidence/r/{request.match_info['token']}")
            )
            return web.Response(text=text, content_type="text/html")

        return await self._guard(request, run)

    async def approve(self, request: web.Request) -> web.StreamResponse:
        async def run(row: Row[Any]) -> web.StreamResponse:
            await answer(
                self.ctx, row, APPROVE, "approved through the request link", [], self._actor(row)
            )
            return _page(
                "Thank you", "<p id='done'>Approved: the video will be exported into the case.</p>"
            )

        return await self._guard(request, run)

    async def decline(self, request: web.Request) -> web.StreamResponse:
        async def run(row: Row[Any]) -> web.StreamResponse:
            form = await request.post()
            await answer(self.ctx, row, DECLINE, str(form.get("reason", "")), [], self._actor(row))
            return _page(
                "Answer recorded", "<p id='done'>Declined. The agency was told your reason.</p>"
            )

        return await self._guard(request, run)

    async def upload(self, request: web.Request) -> web.StreamResponse:
        async def run(row: Row[Any]) -> web.StreamResponse:
            case = await self.ctx.cases.get_case(row.case_id)
            meta = SimpleNamespace(
                file_name=unquote(request.headers.get("X-File-Name", "")),
                content_type=request.headers.get("Content-Type", "").split(";")[0].strip(),
                sha256=request.headers.get("X-Content-SHA256", ""),
                display_name="", description=f"uploaded by the partner for request {row.id}",
            )  # fmt: skip
            if not meta.sha256:
                raise InvalidArgument("send the file's SHA-256 in X-Content-SHA256", field="sha256")

            async def chunks() -> AsyncIterator[bytes]:
                async for chunk in request.content.iter_chunked(1 << 20):
                    yield chunk

            item_id = await add_uploaded(self.ctx, case, meta, chunks(), self._actor(row))
            async with self.ctx.cases.db.transaction() as conn:
                await conn.execute(
                    _R.update().where(_R.c.id == row.id)
                    .values(item_ids=[*row.item_ids, item_id], etag=store.etag())
                )  # fmt: skip
            item = await self.ctx.cases.get_item(item_id)
            return web.json_response(
                {"item_id": item_id, "sha256": item.sha256, "size": item.size_bytes}
            )

        return await self._guard(request, run)

    async def finish(self, request: web.Request) -> web.StreamResponse:
        async def run(row: Row[Any]) -> web.StreamResponse:
            if not row.item_ids:
                raise FailedPrecondition("no file was uploaded yet")
            await _close(self.ctx, row, APPROVED, APPROVE, f"{len(row.item_ids)} file(s) uploaded",
                         [], [], self._actor(row))  # fmt: skip
            return _page(
                "Thank you", "<p id='done'>Your files were received and added to the case.</p>"
            )

        return await self._guard(request, run)
