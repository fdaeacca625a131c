"""Share links: for people without accounts, time-limited, revocable at once, view-only
or download, bound to a named recipient, optionally behind a passcode, mailed.

RPCs create, read, list and revoke them; `ShareHttp` serves the recipient's pages:

    GET  /evidence/s/{token}                          the link's page (custody: link opened)
    POST /evidence/s/{token}                          passcode form → unlock cookie
    GET  /evidence/s/{token}/items/{item_id}          the content inline (custody: viewed)
    GET  /evidence/s/{token}/items/{item_id}?download=1   as an attachment (custody: downloaded)

An unknown token is 403; an expired or revoked link is 410; each with a sentence.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.engine import Row

from rtcc.common import paging
from rtcc.common import time as wire_time
from rtcc.core.auth import Principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound
from rtcc.core.ids import new_id
from rtcc.evidence import convert, custody_store, links, policy, store, tables
from rtcc.evidence.content import BUCKET
from rtcc.evidence.context import EvidenceContext
from rtcc.evidence.items_api import read_content
from rtcc.evidence.mail import check_address
from rtcc.evidence.v1 import evidence_pb2 as pb

_S = tables.share_links
SHARE_CREATED, SHARE_ACCESSED, SHARE_REVOKED = 10, 11, 12
MAX_LIFETIME = dt.timedelta(days=90)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _get(ctx: EvidenceContext, link_id: str) -> Row[Any]:
    async with ctx.cases.db.transaction(readonly=True) as conn:
        row = (await conn.execute(sa.select(_S).where(_S.c.id == link_id))).first()
    if row is None:
        raise NotFound(f"share link {link_id} does not exist")
    return row


async def create(ctx: EvidenceContext, who: Principal, request: Any) -> pb.CreateShareLinkResponse:
    policy.require_writer(who)
    case = await ctx.visible_case(who, request.case_id)
    link = request.share_link
    recipient = link.recipient.strip()
    if not 1 <= len(recipient) <= 500:
        raise InvalidArgument(
            "name the recipient (1 to 500 characters)", field="share_link.recipient"
        )
    email = (
        check_address(link.recipient_email, "share_link.recipient_email")
        if link.recipient_email
        else ""
    )
    if not link.HasField("expire_time"):
        raise InvalidArgument("a share link needs an expire_time", field="share_link.expire_time")
    now, expire = _now(), wire_time.to_datetime(link.expire_time)
    if not now < expire <= now + MAX_LIFETIME:
        raise InvalidArgument(
            "expire_time must be in the future and at most 90 days ahead",
            field="share_link.expire_time",
        )
    items = sorted(set(link.item_ids))
    for item_id in items:
        row = await ctx.cases.get_item(item_id)
        if row.case_id != case.id:
            raise InvalidArgument(
                f"item {item_id} is not in case {case.id}", field="share_link.item_ids"
            )
    token, link_id = links.new_token(), new_id("shl")
    values = {
        "id": link_id, "case_id": case.id, "item_ids": items, "recipient": recipient,
        "recipient_email": email, "expire_time": expire, "allow_download": link.allow_download,
        "password_hash": links.hash_passcode(request.password) if request.password else "",
        "token_hash": links.token_hash(token), "revoked": False, "access_count": 0,
        "last_access_time": None, "creator_subject": who.subject, "creator_org_id": who.org_id,
        "create_time": now, "revoke_time": None, "revoke_reason": "",
    }  # fmt: skip
    mode = "view and download" if link.allow_download else "view only"
    async with ctx.cases.db.transaction() as conn:
        await conn.execute(_S.insert().values(**values))
        await custody_store.append(
            conn, case.id, SHARE_CREATED, ctx.actor(who), now,
            detail=f"share link {link_id} for {recipient} ({mode}, until {expire.isoformat()}, "
            f"{len(items) or 'all'} items{', passcode' if request.password else ''})",
        )  # fmt: skip
    url = f"{ctx.public_url}/evidence/s/{token}"
    if email:
        await ctx.mailer.send(
            email,
            f"Evidence shared with you: case {case.case_number or case.id}",
            f"Hello {recipient},\n\n{who.subject} shared evidence of case "
            f"{case.case_number or case.id} ({case.title}) with you ({mode}).\n\n"
            f"Open: {url}\n\nThe link works until {expire.isoformat()} and is for you only; "
            "every view and download is recorded in the case's chain of custody."
            + ("\nThe passcode reaches you by another channel." if request.password else ""),
        )
    return pb.CreateShareLinkResponse(
        share_link=convert.share_link(await _get(ctx, link_id), now), url=url
    )


async def get(ctx: EvidenceContext, who: Principal, request: Any) -> pb.GetShareLinkResponse:
    row = await _get(ctx, request.share_link_id)
    await ctx.visible_case(who, row.case_id)
    return pb.GetShareLinkResponse(share_link=convert.share_link(row, _now()))


async def list_links(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.ListShareLinksResponse:
    await ctx.visible_case(who, request.case_id)
    size = paging.page_size(request.page_size)
    offset = (
        int(paging.decode_token(request.page_token, "links", 1)[0]) if request.page_token else 0
    )
    query = sa.select(_S).where(_S.c.case_id == request.case_id).order_by(_S.c.create_time.desc())
    async with ctx.cases.db.transaction(readonly=True) as conn:
        rows = (await conn.execute(query)).all()
    now = _now()
    wanted = set(request.states)
    chosen = [r for r in rows if not wanted or convert.share_state(r, now) in wanted]
    page = chosen[offset : offset + size]
    token = paging.encode_token("links", offset + size) if len(chosen) > offset + size else ""
    return pb.ListShareLinksResponse(
        share_links=[convert.share_link(r, now) for r in page], next_page_token=token
    )


async def revoke(ctx: EvidenceContext, who: Principal, request: Any) -> pb.RevokeShareLinkResponse:
    policy.require_writer(who)
    row = await _get(ctx, request.share_link_id)
    await ctx.visible_case(who, row.case_id)
    now = _now()
    async with ctx.cases.db.transaction() as conn:
        done = await conn.execute(
            _S.update()
            .where(_S.c.id == row.id, _S.c.revoked.is_(False))
            .values(revoked=True, revoke_time=now, revoke_reason=request.reason.strip()[:1000])
        )
        if done.rowcount == 0:
            raise FailedPrecondition(f"share link {row.id} is already revoked")
        await custody_store.append(
            conn, row.case_id, SHARE_REVOKED, ctx.actor(who), now,
            detail=f"share link {row.id} for {row.recipient} revoked: "
            f"{request.reason.strip() or 'no reason given'}",
        )  # fmt: skip
    return pb.RevokeShareLinkResponse(share_link=convert.share_link(await _get(ctx, row.id), now))


# --- the recipient's side (HTTP) ---------------------------------------------------


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        "</title><style>body{font:15px system-ui,sans-serif;margin:2rem;max-width:60rem}"
        "video{max-width:40rem;display:block;margin:.4rem 0 1.4rem}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html")


def refusal(status: int, sentence: str) -> web.Response:
    return _page("This link does not open", f"<p id='refusal'>{html.escape(sentence)}</p>", status)


class ShareHttp:
    def __init__(self, ctx: EvidenceContext) -> None:
        self.ctx = ctx

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/evidence/s/{token}", self.page),
            ("POST", "/evidence/s/{token}", self.unlock),
            ("GET", "/evidence/s/{token}/items/{item_id}", self.content),
        ]

    async def _link(self, token: str) -> Row[Any] | web.Response:
        async with self.ctx.cases.db.transaction(readonly=True) as conn:
            row = (
                await conn.execute(sa.select(_S).where(_S.c.token_hash == links.token_hash(token)))
            ).first()
        if row is None:
            return refusal(403, "This link is not valid. Check that you copied the whole address.")
        if row.revoked:
            return refusal(410, f"This link was revoked on {row.revoke_time:%Y-%m-%d %H:%M} UTC "
                                "and no longer opens. Ask the sender for a new one.")  # fmt: skip
        if row.expire_time <= _now():
            return refusal(410, f"This link expired on {row.expire_time:%Y-%m-%d %H:%M} UTC. "
                                "Ask the sender for a new one.")  # fmt: skip
        return row

    def _locked(self, request: web.Request, row: Row[Any], token: str) -> bool:
        if not row.password_hash:
            return False
        cookie = request.cookies.get(f"rtcc_share_{row.id}", "")
        return cookie != links.unlock_cookie(token, row.id)

    async def _record(self, row: Row[Any], action: int, detail: str, request: web.Request,
                      item: Row[Any] | None = None) -> None:  # fmt: skip
        now = _now()
        actor = custody_store.Actor(f"share:{row.id}", "")
        where = request.remote or "unknown address"
        async with self.ctx.cases.db.transaction() as conn:
            await custody_store.append(
                conn, row.case_id, action, actor, now, item_id=item.id if item else "",
                item_sha256=item.sha256 if item else "",
                detail=f"{detail} by {row.recipient} from {where}",
            )  # fmt: skip
            await conn.execute(
                _S.update().where(_S.c.id == row.id)
                .values(access_count=_S.c.access_count + 1, last_access_time=now)
            )  # fmt: skip

    async def _items(self, row: Row[Any]) -> list[Row[Any]]:
        rows = await self.ctx.cases.list_items(row.case_id, (), 100_000, None)
        ready = [r for r in rows if r.state == store.READY]
        return [r for r in ready if not row.item_ids or r.id in row.item_ids]

    async def page(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        row = await self._link(token)
        if isinstance(row, web.Response):
            return row
        if self._locked(request, row, token):
            form = (
                "<form method='post'><label>Passcode <input name='passcode' type='password' "
                "id='passcode'></label> <button id='unlock'>Open</button></form>"
            )
            return _page(
                "Evidence shared with you", f"<p>For {html.escape(row.recipient)}.</p>{form}"
            )
        await self._record(row, SHARE_ACCESSED, f"link {row.id} opened", request)
        case = await self.ctx.cases.get_case(row.case_id)
        parts = [
            f"<p>Case {html.escape(case.case_number or case.id)}: {html.escape(case.title)}. "
            f"Shared with {html.escape(row.recipient)} until {row.expire_time:%Y-%m-%d %H:%M} UTC; "
            "every view and download is recorded in the case's chain of custody.</p>"
        ]
        for item in await self._items(row):
            src = f"/evidence/s/{token}/items/{item.id}"
            parts.append(f"<h2>{html.escape(item.display_name)}</h2>")
            parts.append(f"<p>SHA-256 <code>{item.sha256}</code></p>")
            if item.content_type.startswith("video/"):
                parts.append(
                    f"<video controls muted preload='metadata' data-item='{item.id}' "
                    f"src='{src}'></video>"
                )
            elif item.content_type.startswith("image/"):
                parts.append(f"<img alt='' style='max-width:40rem' src='{src}'>")
            if row.allow_download:
                parts.append(f"<p><a class='download' href='{src}?download=1'>Download</a></p>")
        return _page("Evidence shared with you", "".join(parts))

    async def unlock(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        row = await self._link(token)
        if isinstance(row, web.Response):
            return row
        form = await request.post()
        if not row.password_hash or not links.check_passcode(
            row.password_hash, str(form.get("passcode", ""))
        ):
            await self._record(row, SHARE_ACCESSED, f"wrong passcode for link {row.id}", request)
            return refusal(403, "The passcode is not right. Try again, or ask the sender.")
        response = web.HTTPSeeOther(f"/evidence/s/{token}")
        response.set_cookie(
            f"rtcc_share_{row.id}", links.unlock_cookie(token, row.id),
            httponly=True, samesite="Strict", path=f"/evidence/s/{token}",
        )  # fmt: skip
        raise response

    async def content(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        row = await self._link(token)
        if isinstance(row, web.Response):
            return row
        if self._locked(request, row, token):
            return refusal(403, "This link needs its passcode; open the link's page first.")
        item_id = request.match_info["item_id"]
        item = next((i for i in await self._items(row) if i.id == item_id), None)
        if item is None:
            return refusal(403, "This item is not shared through this link.")
        download = request.query.get("download") == "1"
        if download and not row.allow_download:
            return refusal(403, "This link lets you view the evidence, not download it.")
        return await self._send(request, row, item, download)

    async def _send(
        self, request: web.Request, row: Row[Any], item: Row[Any], download: bool
    ) -> web.StreamResponse:
        """The content, or the byte range a player asks for. A read from the start (a
        new viewing, recorded once) loads the whole item and checks its SHA-256; a later
        range of the same viewing is read from the object store alone."""
        size = int(item.size_bytes)
        first, last = 0, size - 1
        ranged = request.http_range
        if ranged.start is not None or ranged.stop is not None:
            first = ranged.start or 0
            if first < 0:
                first = max(0, size + first)
            last = min((ranged.stop or size) - 1, size - 1)
        if first >= size or last < first:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
        if first == 0:
            case = await self.ctx.cases.get_case(row.case_id)
            body = (await read_content(self.ctx, case, item))[: last + 1]
            verb = "downloaded" if download else "viewed"
            await self._record(
                row, store.ITEM_ACCESSED, f"{verb} through share link {row.id}", request, item
            )
        else:
            body = await self.ctx.content.objects.get_range(BUCKET, item.object_key, first, last)
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
        if download:
            name = item.object_key.rsplit("/", 1)[-1]
            headers["Content-Disposition"] = f'attachment; filename="{item.id}-{name}"'
        status = 200
        if first != 0 or last != size - 1:
            status = 206
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return web.Response(
            body=body, status=status, headers=headers, content_type=item.content_type
        )
