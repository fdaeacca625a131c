"""The console's JSON API for the Cases view (see docs/evidence.md).

    POST /api/evidence/v1/{Method}        any unary EvidenceService RPC: body and answer
                                          in proto3 JSON, e.g. /api/evidence/v1/ListCases
    GET  /api/evidence/v1/cases/{id}/timeline           items and custody entries by time
    GET  /api/evidence/v1/cases/{id}/custody.log        the log file `rtcc evidence verify` reads
    GET  /api/evidence/v1/cases/{id}/packages/{pkg}.zip a package built by ExportPackage
    GET  /api/evidence/v1/items/{id}/content            an item's content (custody: played)
    POST /api/evidence/v1/cases/{id}/files              upload: body = file, headers
                                                        X-File-Name, X-Content-SHA256

Every route needs ``Authorization: Bearer``; errors are ``{"error": sentence}`` with the
HTTP status matching the gRPC code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from google.protobuf import json_format

from rtcc.core.auth import Principal, TokenAuthority, reset_current_principal, set_current_principal
from rtcc.core.errors import InvalidArgument, NotFound, RtccError, Unauthenticated
from rtcc.evidence import convert, exports_api, items_api, package, policy, store
from rtcc.evidence.context import EvidenceContext
from rtcc.evidence.v1 import evidence_pb2 as pb

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_STATUS = {
    "INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503,
}  # fmt: skip
_STREAMING = {"UploadFile", "DownloadItem", "DownloadPackage"}


class _CallContext:
    """Enough of a gRPC servicer context for the domain code (the bearer, forwarded)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token}"),)


class EvidenceHttp:
    def __init__(self, ctx: EvidenceContext, authority: TokenAuthority) -> None:
        from rtcc.evidence.service import EvidenceServicer  # the same code as gRPC

        self.ctx, self.authority = ctx, authority
        self.servicer = EvidenceServicer(ctx)
        descriptor = pb.DESCRIPTOR.services_by_name["EvidenceService"]
        self.methods = {m.name: m for m in descriptor.methods if m.name not in _STREAMING}

    def routes(self) -> list[tuple[str, str, Handler]]:
        g = self._guard
        base = "/api/evidence/v1"
        return [
            ("GET", f"{base}/cases/{{case_id}}/timeline", g(self.timeline)),
            ("GET", f"{base}/cases/{{case_id}}/custody.log", g(self.custody_log)),
            ("GET", f"{base}/cases/{{case_id}}/packages/{{package_id}}.zip", g(self.package)),
            ("GET", f"{base}/items/{{item_id}}/content", g(self.content)),
            ("POST", f"{base}/cases/{{case_id}}/files", g(self.upload)),
            ("POST", f"{base}/{{method}}", g(self.rpc)),
        ]

    def _guard(
        self, handler: Callable[[web.Request, Principal, str], Awaitable[web.StreamResponse]]
    ) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                scheme, _, token = request.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise Unauthenticated("send Authorization: Bearer <token>")
                who = self.authority.verify(token.strip())
                marker = set_current_principal(who)
                try:
                    return await handler(request, who, token.strip())
                finally:
                    reset_current_principal(marker)
            except RtccError as exc:
                return web.json_response(
                    {"error": exc.message}, status=_STATUS.get(exc.code.name, 500)
                )

        return wrapped

    async def rpc(self, request: web.Request, who: Principal, token: str) -> web.StreamResponse:
        name = request.match_info["method"]
        method = self.methods.get(name)
        if method is None:
            raise NotFound(f"no JSON method {name}; see docs/evidence.md")
        message_class = getattr(pb, method.input_type.name)
        message = message_class()
        body = await request.text()
        try:
            json_format.Parse(body or "{}", message)
        except json_format.ParseError as exc:
            raise InvalidArgument(f"the body is not a {method.input_type.name}: {exc}") from None
        answer = await getattr(self.servicer, name)(message, _CallContext(token))
        return web.json_response(json_format.MessageToDict(answer))

    async def timeline(
        self, request: web.Request, who: Principal, token: str
    ) -> web.StreamResponse:
        case = await self.ctx.visible_case(who, request.match_info["case_id"])
        items = await self.ctx.cases.list_items(case.id, (), 100_000, None)
        events: list[dict[str, Any]] = []
        for row in items:
            source = dict(row.source)
            when = source.get("start") or source.get("capture_time") or row.create_time.isoformat()
            events.append({"kind": "item", "time": when, "itemId": row.id,
                           "itemKind": pb.ItemKind.Name(row.kind), "title": row.display_name,
                           "end": source.get("end")})  # fmt: skip
        for entry in await self.ctx.custody.entries(case.id):
            data = _json(entry.canonical)
            events.append({"kind": "custody", "time": data["time"], "sequence": entry.sequence,
                           "action": data["action"], "detail": data.get("detail", ""),
                           "actor": data.get("actor", {}).get("subject", "")})  # fmt: skip
        events.sort(key=lambda e: dt.datetime.fromisoformat(str(e["time"]).replace("Z", "+00:00")))
        return web.json_response({"caseId": case.id, "events": events})

    async def custody_log(
        self, request: web.Request, who: Principal, token: str
    ) -> web.StreamResponse:
        case = await self.ctx.visible_case(who, request.match_info["case_id"])
        point = await self.ctx.custody.checkpoint(case.id, dt.datetime.now(dt.UTC))
        lines = [e.canonical for e in await self.ctx.custody.entries(case.id)][: point.size]
        body = package.log_text(point, self.ctx.key.public_key(), lines)
        disposition = f'attachment; filename="{case.id}-custody.jsonl"'
        return web.Response(
            body=body,
            content_type="application/x-ndjson",
            headers={"Content-Disposition": disposition},
        )

    async def package(self, request: web.Request, who: Principal, token: str) -> web.StreamResponse:
        message = pb.DownloadPackageRequest(
            case_id=request.match_info["case_id"], package_id=request.match_info["package_id"]
        )
        data = b"".join(
            [m.data async for m in exports_api.download_package(self.ctx, who, message)]
        )
        disposition = f'attachment; filename="{message.package_id}.zip"'
        return web.Response(
            body=data, content_type="application/zip", headers={"Content-Disposition": disposition}
        )

    async def content(self, request: web.Request, who: Principal, token: str) -> web.StreamResponse:
        case, item = await self.ctx.visible_item(who, request.match_info["item_id"])
        data = await items_api.read_content(self.ctx, case, item)
        await self.ctx.cases.record(
            case.id, store.ITEM_ACCESSED, self.ctx.actor(who), dt.datetime.now(dt.UTC),
            item_id=item.id, item_sha256=item.sha256, detail="played in the console",
        )  # fmt: skip
        return web.Response(body=data, content_type=item.content_type or "application/octet-stream")

    async def upload(self, request: web.Request, who: Principal, token: str) -> web.StreamResponse:
        policy.require_writer(who)
        case = await self.ctx.visible_case(who, request.match_info["case_id"])
        meta = SimpleNamespace(
            file_name=unquote(request.headers.get("X-File-Name", "")),
            content_type=request.headers.get("Content-Type", "").split(";")[0].strip(),
            sha256=request.headers.get("X-Content-SHA256", ""),
            display_name="", description="",
        )  # fmt: skip

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in request.content.iter_chunked(1 << 20):
                yield chunk

        item_id = await items_api.add_uploaded(self.ctx, case, meta, chunks(), self.ctx.actor(who))
        item = convert.item(await self.ctx.cases.get_item(item_id))
        return web.json_response({"item": json_format.MessageToDict(item)})


def _json(data: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(data)
    return parsed
