"""Items: added from analytics records, notes, snapshots and uploads; read back with
their hash checked; described; removed. Clip exports live in exports_api.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import mimetypes
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from rtcc.clients import Caller, What
from rtcc.common import paging
from rtcc.common import time as wire_time
from rtcc.core.auth import Principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound
from rtcc.core.ids import new_id
from rtcc.evidence import convert, policy, remux, store
from rtcc.evidence.cases_api import require_open
from rtcc.evidence.content import RECORDINGS_BUCKET
from rtcc.evidence.context import EvidenceContext
from rtcc.evidence.links import safe_file_name
from rtcc.evidence.v1 import evidence_pb2 as pb

CHUNK = 1 << 20
KIND = {
    "snapshot": pb.ITEM_KIND_SNAPSHOT, "event": pb.ITEM_KIND_EVENT,
    "plate_read": pb.ITEM_KIND_PLATE_READ, "note": pb.ITEM_KIND_NOTE,
}  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(text: str, fallback: str) -> str:
    name = (text or fallback).strip()
    if not 1 <= len(name) <= 200:
        raise InvalidArgument("display_name must be 1 to 200 characters", field="display_name")
    return name


def item_key(case_id: str, item_id: str, file_name: str) -> str:
    return f"cases/{case_id}/items/{item_id}/{file_name}"


async def store_content(
    ctx: EvidenceContext,
    case: Any,
    values: dict[str, Any],
    data: bytes | Path,
    file_name: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """Hash and store an item's content under lock; fills the item's content fields."""
    item_id = values.setdefault("id", new_id("itm"))
    key = item_key(case.id, item_id, file_name)
    category = case.retention_category
    until = ctx.retain_until(category, now)
    if isinstance(data, Path):
        size, digest = await ctx.content.store_file(
            key, data, values["content_type"], until, case.hold_active
        )
    else:
        size, digest = await ctx.content.store_bytes(
            key, data, values["content_type"], until, case.hold_active
        )
    values.update(
        object_key=key, size_bytes=size, sha256=digest, state=store.READY,
        retention_category=category, retain_until=until,
    )  # fmt: skip
    return values


async def create_item(
    ctx: EvidenceContext, who: Principal, request: Any, context: Any
) -> pb.CreateItemResponse:
    policy.require_writer(who)
    case = await ctx.visible_case(who, request.case_id)
    require_open(case)
    message = request.item
    kind = message.WhichOneof("source")
    if kind not in KIND:
        raise InvalidArgument(
            "CreateItem adds a snapshot, an event, a plate read or a note; clips come from "
            "ExportClip and files from UploadFile",
            field="item.source",
        )
    now = _now()
    values: dict[str, Any] = {"kind": KIND[kind], "description": message.description}
    content, file_name = await _content_of(ctx, who, message, kind, context, values)
    values["display_name"] = _name(message.display_name, f"{kind.replace('_', ' ')} {now:%H:%M:%S}")
    await store_content(ctx, case, values, content, file_name, now)
    item_id = await ctx.cases.add_item(case.id, values, ctx.actor(who), now)
    return pb.CreateItemResponse(item=convert.item(await ctx.cases.get_item(item_id)))


async def _content_of(
    ctx: EvidenceContext,
    who: Principal,
    message: Any,
    kind: str,
    context: Any,
    values: dict[str, Any],
) -> tuple[bytes, str]:
    caller = Caller.of_call(context)
    if kind == "note":
        text = message.note.text
        if not 1 <= len(text) <= 20000:
            raise InvalidArgument("a note has 1 to 20000 characters", field="item.note.text")
        values.update(source={"kind": "note", "text": text}, content_type="text/plain")
        return text.encode(), "note.txt"
    if kind in ("event", "plate_read"):
        record: Any
        if kind == "event":
            if not message.event.event_id:
                raise InvalidArgument("event_id is required", field="item.event.event_id")
            record = await ctx.clients.analytics.get_event(message.event.event_id, caller=caller)
            source = {"kind": "event", "event_id": record.id}
        else:
            if not message.plate_read.plate_read_id:
                raise InvalidArgument(
                    "plate_read_id is required", field="item.plate_read.plate_read_id"
                )
            record = await ctx.clients.analytics.get_plate_read(
                message.plate_read.plate_read_id, caller=caller
            )
            source = {"kind": "plate_read", "plate_read_id": record.id}
        as_json = json_format.MessageToDict(record)
        values.update(source=source, source_record=as_json, content_type="application/json")
        return json.dumps(as_json, sort_keys=True, indent=1).encode(), f"{kind}.json"
    return await _snapshot(ctx, who, message.snapshot, values)


async def _snapshot(
    ctx: EvidenceContext, who: Principal, source: Any, values: dict[str, Any]
) -> tuple[bytes, str]:
    if not source.camera_id or not source.HasField("capture_time"):
        raise InvalidArgument("a snapshot needs camera_id and capture_time", field="item.snapshot")
    await ctx.clients.access.require(who, source.camera_id, What.RECORDED_VIDEO, raw=True)
    when = wire_time.to_datetime(source.capture_time)
    located = await ctx.clients.ingest.locate_segment(source.camera_id, when)
    if not located.exact:
        raise NotFound(
            f"camera {source.camera_id} has no recording at {when.isoformat()}: it was not "
            "recording then, or the footage is past its retention"
        )
    data = await ctx.content.objects.get(RECORDINGS_BUCKET, located.segment.object_key)
    offset = located.offset.ToTimedelta().total_seconds()
    jpeg = await asyncio.to_thread(remux.snapshot_jpeg, data, offset)
    values.update(
        source={"kind": "snapshot", "camera_id": source.camera_id,
                "capture_time": when.isoformat()},
        content_type="image/jpeg",
    )  # fmt: skip
    return jpeg, "snapshot.jpg"


async def get_item(ctx: EvidenceContext, who: Principal, request: Any) -> pb.GetItemResponse:
    _, item = await ctx.visible_item(who, request.item_id)
    return pb.GetItemResponse(item=convert.item(item))


async def list_items(ctx: EvidenceContext, who: Principal, request: Any) -> pb.ListItemsResponse:
    await ctx.visible_case(who, request.case_id)
    size = paging.page_size(request.page_size)
    after = None
    if request.page_token:
        when, item_id = paging.decode_token(request.page_token, "items", 2)
        after = (dt.datetime.fromisoformat(when), item_id)
    rows = await ctx.cases.list_items(request.case_id, list(request.kinds), size + 1, after)
    token = ""
    if len(rows) > size:
        token = paging.encode_token(
            "items", rows[size - 1].create_time.isoformat(), rows[size - 1].id
        )
    return pb.ListItemsResponse(items=[convert.item(r) for r in rows[:size]], next_page_token=token)


async def update_item(ctx: EvidenceContext, who: Principal, request: Any) -> pb.UpdateItemResponse:
    policy.require_writer(who)
    _, item = await ctx.visible_item(who, request.item.id)
    paths = tuple(request.update_mask.paths) or ("display_name", "description")
    if set(paths) - {"display_name", "description"}:
        raise InvalidArgument(
            "only display_name and description of an item can change", field="update_mask"
        )
    changes: dict[str, Any] = {}
    if "display_name" in paths:
        changes["display_name"] = _name(request.item.display_name, "")
    if "description" in paths:
        changes["description"] = request.item.description[:10000]
    row = await ctx.cases.update_item(item.id, changes, request.item.etag, ctx.actor(who), _now())
    return pb.UpdateItemResponse(item=convert.item(row))


async def delete_item(ctx: EvidenceContext, who: Principal, request: Any) -> pb.DeleteItemResponse:
    policy.require_writer(who)
    _, item = await ctx.visible_item(who, request.item_id)
    row = await ctx.cases.delete_item(
        item.id, request.etag, request.reason.strip(), ctx.actor(who), _now()
    )
    if row.object_key:  # kept by its retention until that ends; retention removes it then
        await ctx.content.remove(row.object_key)
    return pb.DeleteItemResponse()


async def read_content(ctx: EvidenceContext, case: Any, item: Any) -> bytes:
    """An item's stored bytes, refused when they no longer match the recorded hash."""
    if item.state != store.READY or not item.object_key:
        raise FailedPrecondition(f"item {item.id} has no content yet (it is not ready)")
    data = await ctx.content.get(item.object_key)
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise FailedPrecondition(
            f"item {item.id}'s stored content no longer matches its SHA-256; it is withheld "
            "and this is recorded — report it to the evidence custodian"
        )
    return data


async def download_item(
    ctx: EvidenceContext, who: Principal, request: Any
) -> AsyncIterator[pb.DownloadItemResponse]:
    case, item = await ctx.visible_item(who, request.item_id)
    data = await read_content(ctx, case, item)
    purpose = request.purpose.strip() or "no purpose given"
    await ctx.cases.record(
        case.id, store.ITEM_ACCESSED, ctx.actor(who), _now(), item_id=item.id,
        item_sha256=item.sha256, detail=f"downloaded: {purpose}",
    )  # fmt: skip
    first = True
    for at in range(0, max(len(data), 1), CHUNK):
        yield pb.DownloadItemResponse(
            item=convert.item(item) if first else None, data=data[at : at + CHUNK]
        )
        first = False


def check_upload_type(ctx: EvidenceContext, file_name: str, content_type: str) -> str:
    kind = content_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    if kind not in ctx.settings.upload_types:
        raise InvalidArgument(
            f"files of type {kind} are not accepted; allowed: "
            f"{', '.join(ctx.settings.upload_types)}",
            field="content_type",
        )
    return kind


async def receive_upload(
    ctx: EvidenceContext, chunks: AsyncIterator[bytes], expected_sha256: str, folder: Path
) -> tuple[Path, int, str]:
    """Spool an upload to disk, bounded; check the sender's hash when given."""
    path = folder / "upload"
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as handle:
        async for chunk in chunks:
            size += len(chunk)
            if size > ctx.settings.max_upload_bytes:
                raise InvalidArgument(
                    f"the file is larger than the {ctx.settings.max_upload_bytes} bytes allowed",
                    field="data",
                )
            digest.update(chunk)
            await asyncio.to_thread(handle.write, chunk)
    if size == 0:
        raise InvalidArgument("the file is empty", field="data")
    got = digest.hexdigest()
    if expected_sha256 and got != expected_sha256.lower():
        raise InvalidArgument(
            f"the received file's SHA-256 is {got}, not the {expected_sha256} you sent: it "
            "was damaged or changed on the way; nothing was stored",
            field="sha256",
        )
    return path, size, got


async def add_uploaded(
    ctx: EvidenceContext,
    case: Any,
    meta: Any,
    chunks: AsyncIterator[bytes],
    actor: Any,
    detail_prefix: str = "",
) -> str:
    """Receive, check and store an uploaded file as a ready item; returns its id."""
    require_open(case)
    file_name = safe_file_name(meta.file_name)
    content_type = check_upload_type(ctx, file_name, meta.content_type)
    now = _now()
    with tempfile.TemporaryDirectory(prefix="rtcc-upload-", dir=_work(ctx)) as folder:
        path, _, _ = await receive_upload(ctx, chunks, meta.sha256, Path(folder))
        values: dict[str, Any] = {
            "kind": pb.ITEM_KIND_FILE, "display_name": _name(meta.display_name, file_name),
            "description": meta.description, "source": {"kind": "file", "file_name": file_name},
            "content_type": content_type,
        }  # fmt: skip
        await store_content(ctx, case, values, path, file_name, now)
    return await ctx.cases.add_item(case.id, values, actor, now)


def _work(ctx: EvidenceContext) -> Path:
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    return ctx.work_dir


async def upload_file(
    ctx: EvidenceContext, who: Principal, requests: AsyncIterator[Any]
) -> pb.UploadFileResponse:
    policy.require_writer(who)
    first = await anext(aiter(requests), None)
    if first is None or first.WhichOneof("payload") != "metadata":
        raise InvalidArgument(
            "the first UploadFile message must carry the metadata", field="metadata"
        )
    meta = first.metadata
    case = await ctx.visible_case(who, meta.case_id)

    async def chunks() -> AsyncIterator[bytes]:
        async for message in requests:
            if message.WhichOneof("payload") != "data":
                raise InvalidArgument("only the first message may carry metadata", field="metadata")
            yield message.data

    item_id = await add_uploaded(ctx, case, meta, chunks(), ctx.actor(who))
    return pb.UploadFileResponse(item=convert.item(await ctx.cases.get_item(item_id)))
