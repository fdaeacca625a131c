"""Clip exports from real recordings (simulated RTSP cameras through ingest): one MP4
per clip, gaps reported, hashed and locked, resumable after a restart; partner
approval; legal hold surviving retention."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from tests.integration.evidence.conftest import Stub, wait_until

from rtcc.common.v1 import common_pb2
from rtcc.core.clients import open_channel
from rtcc.evidence import tables
from rtcc.evidence.content import BUCKET
from rtcc.evidence.v1 import evidence_pb2 as pb
from rtcc.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from rtcc.sim.registration import register_cameras

DETECTIVE = ("det.ruiz@metro", ["investigator"])
SETTINGS = {
    "evidence": {
        "retention_days": {"brief": 4 / 86400, "evidentiary": 1000.0, "homicide": None},
        "export_lease_s": 2.0,
    }
}


def _ts(value: dt.datetime) -> Any:
    from google.protobuf import timestamp_pb2

    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def _clip(camera_id: str, start: dt.datetime, end: dt.datetime) -> pb.ClipSource:
    return pb.ClipSource(
        camera_id=camera_id,
        time_range=common_pb2.TimeRange(start_time=_ts(start), end_time=_ts(end)),
    )


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration,format_name:stream=codec_name",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


async def cameras(ev: Any, sim: Any, owners: list[str]) -> list[str]:
    """Register simulated cameras (camera i owned by owners[i]); returns their ids."""
    admin = ev.platform.token("org_platform", ["platform-admin"])
    channel = open_channel(ev.platform.address, lambda: admin)
    ids = []
    for n, owner in enumerate(owners):
        ids += await register_cameras(channel, [sim.cameras[n]], organization_id=owner)
    await channel.close()
    return ids


async def recorded(ev: Any, camera_id: str, org_id: str, segments: int = 3) -> list[Any]:
    """Wait until ingest indexed `segments` segments of the camera; returns them."""
    token = ev.platform.token(org_id, ["investigator"], subject="waiter")
    ingest = Stub(ingest_pb2_grpc.IngestServiceStub(ev.channel), token)
    found: list[Any] = []

    async def enough() -> bool:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        answer = await ingest.ListSegments(
            ingest_pb2.ListSegmentsRequest(
                camera_id=camera_id, time_range=common_pb2.TimeRange(start_time=_ts(start))
            )
        )
        found[:] = list(answer.segments)
        return len(found) >= segments

    await wait_until(enough, within_s=60, what=f"{segments} recorded segments of {camera_id}")
    return found


async def finished(stub: Any, job_id: str, within_s: float = 60) -> pb.ExportJob:
    job: list[pb.ExportJob] = []

    async def done() -> bool:
        answer = await stub.GetExportJob(pb.GetExportJobRequest(export_job_id=job_id))
        job[:] = [answer.export_job]
        return answer.export_job.state >= pb.EXPORT_JOB_STATE_SUCCEEDED

    await wait_until(done, within_s=within_s, what=f"export job {job_id} to finish")
    return job[0]


async def download(stub: Any, item_id: str) -> bytes:
    request = pb.DownloadItemRequest(item_id=item_id, purpose="check")
    return b"".join([m.data async for m in stub.DownloadItem(request)])


@pytest.fixture(autouse=True)
def short_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCC_INGEST__SEGMENT_SECONDS", "2")


async def test_clips_export_to_hashed_locked_mp4s_with_gaps_and_holds_survive_retention(
    evidence_factory: Any, simulator: Any, tmp_path: Path
) -> None:
    async with evidence_factory(**SETTINGS) as ev:
        cam_a, cam_b = await cameras(ev, simulator, [ev.org_id, ev.org_id])
        det = ev.as_(*DETECTIVE)
        case = (await det.CreateCase(pb.CreateCaseRequest(case=pb.Case(title="Robbery")))).case
        seg_a = await recorded(ev, cam_a, ev.org_id)
        await recorded(ev, cam_b, ev.org_id, 2)
        first = seg_a[0].start_time.ToDatetime(tzinfo=dt.UTC)
        last = seg_a[-1].end_time.ToDatetime(tzinfo=dt.UTC)
        # Starts 30 s before the recording began: that part is reported as a gap.
        early = first - dt.timedelta(seconds=30)
        answers = [
            await det.ExportClip(
                pb.ExportClipRequest(case_id=case.id, clip=_clip(cam_a, early, last))
            ),
            await det.ExportClip(
                pb.ExportClipRequest(
                    case_id=case.id, clip=_clip(cam_b, first, last), display_name="cam B"
                )
            ),
        ]
        assert answers[0].item.state == pb.ITEM_STATE_PENDING
        jobs = [await finished(det, a.export_job.id) for a in answers]
        assert [j.state for j in jobs] == [pb.EXPORT_JOB_STATE_SUCCEEDED] * 2, [
            j.error for j in jobs
        ]
        assert jobs[0].progress == 1.0 and jobs[0].bytes_written > 0
        gap = jobs[0].gaps[0]
        assert gap.start_time.ToDatetime(tzinfo=dt.UTC) == early
        assert abs((gap.end_time.ToDatetime(tzinfo=dt.UTC) - first).total_seconds()) < 0.5
        item = (await det.GetItem(pb.GetItemRequest(item_id=answers[0].item.id))).item
        data = await download(det, item.id)
        assert item.state == pb.ITEM_STATE_READY and hashlib.sha256(data).hexdigest() == item.sha256
        path = tmp_path / "clip.mp4"
        path.write_bytes(data)
        info = probe(path)
        assert info["streams"][0]["codec_name"] == "h264" and "mp4" in info["format"]["format_name"]
        assert abs(float(info["format"]["duration"]) - (last - first).total_seconds()) < 0.6
        snap = await det.CreateItem(
            pb.CreateItemRequest(
                case_id=case.id,
                item=pb.Item(
                    snapshot=pb.SnapshotSource(
                        camera_id=cam_a, capture_time=_ts(first + dt.timedelta(seconds=1))
                    )
                ),
            )
        )
        jpeg = await download(det, snap.item.id)
        assert jpeg[:3] == b"\xff\xd8\xff" and snap.item.content_type == "image/jpeg"
        assert hashlib.sha256(jpeg).hexdigest() == snap.item.sha256
        objects = ev.platform.platform.runtime.objects
        key = f"cases/{case.id}/items/{item.id}/clip.mp4"
        assert (await objects.get_retention(BUCKET, key)) is not None, "stored under object lock"

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            hour_ago = first - dt.timedelta(hours=1)
            await det.ExportClip(
                pb.ExportClipRequest(
                    case_id=case.id, clip=_clip(cam_a, hour_ago, hour_ago + dt.timedelta(minutes=1))
                )
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no recording" in (caught.value.details() or "")
        outsider = ev.as_("det.x@corner", ["investigator"], org_id=ev.partner_org_id)
        other = (await outsider.CreateCase(pb.CreateCaseRequest(case=pb.Case(title="x")))).case
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await outsider.ExportClip(
                pb.ExportClipRequest(case_id=other.id, clip=_clip(cam_a, first, last))
            )
        assert caught.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)

        # Legal hold on one of two short-retention cases: retention destroys only the other.
        brief = [
            (
                await det.CreateCase(
                    pb.CreateCaseRequest(case=pb.Case(title=t, retention_category="brief"))
                )
            ).case
            for t in ("held", "not held")
        ]
        clips = []
        for c in brief:
            answer = await det.ExportClip(
                pb.ExportClipRequest(case_id=c.id, clip=_clip(cam_a, first, last))
            )
            await finished(det, answer.export_job.id)
            clips.append(answer.item.id)
        await det.SetLegalHold(
            pb.SetLegalHoldRequest(case_id=brief[0].id, active=True, reason="DA hold")
        )
        held_key = f"cases/{brief[0].id}/items/{clips[0]}/clip.mp4"
        assert await objects.get_legal_hold(BUCKET, held_key)
        admin = ev.as_("lt.cho@metro", ["partner-admin"])

        async def destroyed() -> bool:
            outcome = await admin.RunEvidenceRetention(pb.RunEvidenceRetentionRequest())
            items = await det.ListItems(pb.ListItemsRequest(case_id=brief[1].id))
            return outcome.items_held >= 1 and not items.items

        await wait_until(destroyed, within_s=30, what="retention to destroy the unheld clip")
        kept = (await det.GetItem(pb.GetItemRequest(item_id=clips[0]))).item
        assert kept.state == pb.ITEM_STATE_READY
        assert hashlib.sha256(await download(det, kept.id)).hexdigest() == kept.sha256
        log = await det.ListCustodyEntries(pb.ListCustodyEntriesRequest(case_id=brief[1].id))
        last_entry = log.custody_entries[-1]
        assert (
            last_entry.action == pb.CUSTODY_ACTION_ITEM_DELETED and "retention" in last_entry.detail
        )


async def test_an_export_left_running_by_a_dead_process_is_finished_after_restart(
    platform_factory: Any, simulator: Any, tmp_path: Path
) -> None:
    from tests.integration.evidence.conftest import Evidence, _org

    from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

    shared = {
        "database_url": f"sqlite:///{tmp_path / 'rtcc.db'}",
        "object_store_url": f"file://{tmp_path / 'objects'}",
        "evidence": {"signing_key_file": str(tmp_path / "evidence.pem"), "export_lease_s": 1.0},
    }
    async with platform_factory(targets=["registry", "ingest", "evidence"], **shared) as p:
        admin = p.token("org_platform", ["platform-admin"])
        channel = open_channel(p.address, lambda: admin)
        org = await _org(
            Stub(registry_pb2_grpc.RegistryServiceStub(channel), admin),
            "PD",
            registry_pb2.ORGANIZATION_KIND_AGENCY,
        )
        ev = Evidence(p, channel, org, "", "", "embedded")
        (cam,) = await cameras(ev, simulator, [org])
        det = ev.as_(*DETECTIVE)
        case = (await det.CreateCase(pb.CreateCaseRequest(case=pb.Case(title="Restart")))).case
        segs = await recorded(ev, cam, org, 2)
        first = segs[0].start_time.ToDatetime(tzinfo=dt.UTC)
        answer = await det.ExportClip(
            pb.ExportClipRequest(
                case_id=case.id, clip=_clip(cam, first, first + dt.timedelta(seconds=3))
            )
        )
        await finished(det, answer.export_job.id)
        # As if the process died mid-export: the job running, its item pending.
        db = p.platform.runtime.db
        async with db.transaction() as conn:
            await conn.execute(
                tables.export_jobs.update()
                .where(tables.export_jobs.c.id == answer.export_job.id)
                .values(
                    state=2,
                    progress=0.3,
                    end_time=None,
                    lease_expire_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
                )
            )
            await conn.execute(
                tables.items.update().where(tables.items.c.id == answer.item.id).values(state=1)
            )
        await channel.close()
    async with platform_factory(targets=["registry", "ingest", "evidence"], **shared) as p2:
        token = p2.token(org, ["investigator"], subject=DETECTIVE[0])
        from rtcc.evidence.v1 import evidence_pb2_grpc

        det2 = Stub(
            evidence_pb2_grpc.EvidenceServiceStub(open_channel(p2.address, lambda: token)), token
        )
        job = await finished(det2, answer.export_job.id)
        assert job.state == pb.EXPORT_JOB_STATE_SUCCEEDED
        item = (await det2.GetItem(pb.GetItemRequest(item_id=answer.item.id))).item
        assert item.state == pb.ITEM_STATE_READY
        async with p2.platform.runtime.db.transaction(readonly=True) as conn:
            attempts = (
                await conn.execute(
                    sa.select(tables.export_jobs.c.attempts).where(
                        tables.export_jobs.c.id == job.id
                    )
                )
            ).scalar_one()
        assert attempts == 2
