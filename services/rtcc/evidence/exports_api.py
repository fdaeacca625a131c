"""Clip exports (jobs) and court packages: the RPCs' logic below the servicer."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from google.protobuf import json_format

from rtcc.clients import What
from rtcc.common import paging
from rtcc.core.auth import Principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound
from rtcc.core.ids import new_id
from rtcc.evidence import convert, jobs, package, policy, store, tables
from rtcc.evidence.cases_api import require_open
from rtcc.evidence.context import EvidenceContext
from rtcc.evidence.exporter import recorded_spans
from rtcc.evidence.v1 import evidence_pb2 as pb

PACKAGE_EXPORTED = 14
CHUNK = 1 << 20


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def export_clip(ctx: EvidenceContext, who: Principal, request: Any) -> pb.ExportClipResponse:
    policy.require_writer(who)
    case = await ctx.visible_case(who, request.case_id)
    require_open(case)
    clip = convert.clip_json(request.clip)
    # raw: a clip is the recording itself (remuxed, never re-encoded), so a camera with
    # privacy masks is refused here; people see it masked through playback.
    await ctx.clients.access.require(
        who, clip["camera_id"], What.RECORDED_VIDEO, raw=True, at=clip["start"]
    )
    job_id, item_id = await queue_clip(
        ctx, case, clip, request.display_name, request.description, who
    )
    item = await ctx.cases.get_item(item_id)
    return pb.ExportClipResponse(
        export_job=convert.job(await ctx.jobs.get(job_id)), item=convert.item(item)
    )


async def queue_clip(
    ctx: EvidenceContext, case: Any, clip: dict[str, Any], name: str, description: str, who: Any
) -> tuple[str, str]:
    """Check the range is recorded, then create the pending item and its job."""
    segments = await recorded_spans(
        ctx.clients.ingest, clip["camera_id"], clip["start"], clip["end"]
    )
    if not segments:
        raise NotFound(
            f"camera {clip['camera_id']} has no recording between {clip['start'].isoformat()} "
            f"and {clip['end'].isoformat()}: it was not recording then, or the footage is "
            "past its retention"
        )
    now = _now()
    job_id, item_id = new_id("exp"), new_id("itm")
    display = (name or f"{clip['camera_id']} {clip['start']:%Y-%m-%d %H:%M:%S}").strip()[:200]
    values = {
        "id": item_id, "kind": pb.ITEM_KIND_CLIP, "display_name": display,
        "description": description[:10000], "source": {"kind": "clip", **convert.stored_clip(clip)},
        "state": store.PENDING, "export_job_id": job_id,
        "retention_category": case.retention_category,
        "retain_until": ctx.retain_until(case.retention_category, now),
    }  # fmt: skip
    actor = ctx.actor(who) if isinstance(who, Principal) else who
    async with ctx.cases.db.transaction() as conn:
        await ctx.cases.add_item(case.id, values, actor, now, conn=conn)
        await ctx.jobs.insert(
            conn, job_id, case.id, item_id, clip, (actor.subject, actor.org_id), now
        )
    if isinstance(ctx.wake_exports, asyncio.Event):
        ctx.wake_exports.set()
    return job_id, item_id


async def _visible_job(ctx: EvidenceContext, who: Principal, job_id: str) -> Any:
    if not job_id:
        raise InvalidArgument("export_job_id is required", field="export_job_id")
    row = await ctx.jobs.get(job_id)
    await ctx.visible_case(who, row.case_id)
    return row


async def get_job(ctx: EvidenceContext, who: Principal, request: Any) -> pb.GetExportJobResponse:
    row = await _visible_job(ctx, who, request.export_job_id)
    return pb.GetExportJobResponse(export_job=convert.job(row))


async def list_jobs(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.ListExportJobsResponse:
    await ctx.visible_case(who, request.case_id)
    size = paging.page_size(request.page_size)
    before = None
    if request.page_token:
        when, job_id = paging.decode_token(request.page_token, "jobs", 2)
        before = (dt.datetime.fromisoformat(when), job_id)
    rows = await ctx.jobs.for_case(request.case_id, list(request.states), size + 1, before)
    token = ""
    if len(rows) > size:
        token = paging.encode_token(
            "jobs", rows[size - 1].create_time.isoformat(), rows[size - 1].id
        )
    return pb.ListExportJobsResponse(
        export_jobs=[convert.job(r) for r in rows[:size]], next_page_token=token
    )


async def cancel_job(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.CancelExportJobResponse:
    policy.require_writer(who)
    row = await _visible_job(ctx, who, request.export_job_id)
    now = _now()
    async with ctx.cases.db.transaction() as conn:
        if await ctx.jobs.finish(row.id, jobs.CANCELLED, now, error="cancelled", conn=conn):
            await ctx.cases.finish_item(
                row.item_id, {"state": store.FAILED}, ctx.actor(who), now, "", conn
            )
    return pb.CancelExportJobResponse(export_job=convert.job(await ctx.jobs.get(row.id)))


# --- packages ---------------------------------------------------------------------


def _case_json(case: Any) -> dict[str, Any]:
    return {
        "id": case.id, "caseNumber": case.case_number or "", "title": case.title,
        "caseType": case.case_type, "organizationId": case.organization_id,
    }  # fmt: skip


async def _package_items(ctx: EvidenceContext, case: Any, ids: list[str]) -> list[Any]:
    rows = await ctx.cases.list_items(case.id, (), 100_000, None)
    ready = [r for r in rows if r.state == store.READY and r.object_key]
    if ids:
        by_id = {r.id: r for r in ready}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise FailedPrecondition(
                f"items {', '.join(missing)} are not ready items of case {case.id}"
            )
        ready = [by_id[i] for i in ids]
    if not ready:
        raise FailedPrecondition(f"case {case.id} has no ready items to package")
    return ready


async def export_package(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.ExportPackageResponse:
    policy.require_writer(who)
    case = await ctx.visible_case(who, request.case_id)
    items = await _package_items(ctx, case, list(request.item_ids))
    package_id, now = new_id("pkg"), _now()
    purpose = request.purpose.strip() or "no purpose given"
    await ctx.cases.record(
        case.id, PACKAGE_EXPORTED, ctx.actor(who), now,
        detail=f"package {package_id} of {len(items)} items: {purpose}",
    )  # fmt: skip
    checkpoint = await ctx.custody.checkpoint(case.id, now)
    entries = [e.canonical for e in await ctx.custody.entries(case.id)][: checkpoint.size]
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rtcc-package-", dir=ctx.work_dir) as folder:
        files = []
        for row in items:
            local = Path(folder) / row.id
            data = await ctx.content.get(row.object_key)
            if hashlib.sha256(data).hexdigest() != row.sha256:
                raise FailedPrecondition(
                    f"item {row.id}'s stored content no longer matches its hash"
                )
            await asyncio.to_thread(local.write_bytes, data)
            name = row.object_key.rsplit("/", 1)[-1]
            files.append(
                package.PackageFile(f"items/{row.id}/{name}", row.id, row.content_type, local)
            )
        out = Path(folder) / "package.zip"
        await asyncio.to_thread(
            package.build, out, case=_case_json(case),
            items=[json_format.MessageToDict(convert.item(r)) for r in items], files=files,
            entries=entries, checkpoint=checkpoint, key=ctx.key, purpose=purpose,
            created=now.isoformat(),
        )  # fmt: skip
        key = f"cases/{case.id}/packages/{package_id}.zip"
        size, digest = await ctx.content.store_file(
            key, out, "application/zip", ctx.retain_until(case.retention_category, now),
            case.hold_active,
        )  # fmt: skip
    async with ctx.cases.db.transaction() as conn:
        await conn.execute(
            tables.packages.insert().values(
                id=package_id,
                case_id=case.id,
                object_key=key,
                size_bytes=size,
                sha256=digest,
                item_ids=[r.id for r in items],
                creator_subject=who.subject,
                create_time=now,
            )
        )
    return pb.ExportPackageResponse(
        package_id=package_id, size_bytes=size, sha256=digest, item_count=len(items)
    )


async def package_bytes(ctx: EvidenceContext, case_id: str, package_id: str) -> tuple[Any, bytes]:
    _P = tables.packages
    async with ctx.cases.db.transaction(readonly=True) as conn:
        row = (
            await conn.execute(sa.select(_P).where(_P.c.id == package_id, _P.c.case_id == case_id))
        ).first()
    if row is None:
        raise NotFound(f"package {package_id} of case {case_id} does not exist")
    return row, await ctx.content.get(row.object_key)


async def download_package(
    ctx: EvidenceContext, who: Principal, request: Any
) -> AsyncIterator[pb.DownloadPackageResponse]:
    case = await ctx.visible_case(who, request.case_id)
    row, data = await package_bytes(ctx, case.id, request.package_id)
    await ctx.cases.record(
        case.id, store.ITEM_ACCESSED, ctx.actor(who), _now(),
        detail=f"package {row.id} downloaded (SHA-256 {row.sha256})",
    )  # fmt: skip
    for at in range(0, len(data), CHUNK):
        yield pb.DownloadPackageResponse(data=data[at : at + CHUNK])
