"""One request per RPC (and variant), aimed at the owner organisation's camera or at
resources seeded for it. A builder gets the world and the caller; RPCs without one get
`generic`, which fills top-level camera and organisation fields by name."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from rtcc.common.v1 import common_pb2 as cpb

from .rpcs import Rpc
from .world import LAT, LNG, OWNER, PLATE, PLATFORM_ADMIN, SERVICE, World, ts

Builder = Callable[[World, str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """How to exercise one row: the request's fields, and how to read a stream."""

    build: Builder
    stream_wait_s: float = 2.0
    max_messages: int = 50
    # Rows on a session owned by OWNER: a fresh session per row, OWNER's call last.
    owner_session: bool = False
    # Per caller, before its call: resources of its own (e.g. a case), into ctx.
    prepare: Callable[[World, str], Awaitable[dict[str, Any]]] | None = None
    # Per caller, after an OK call: more answers to judge (e.g. the exported file).
    follow: Callable[[World, str, list[Any]], Awaitable[list[Any]]] | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hour(world: World) -> cpb.TimeRange:
    return cpb.TimeRange(start_time=ts(_now() - dt.timedelta(hours=1)), end_time=ts(_now()))


def _seg(world: World, plain: bool = False) -> tuple[dt.datetime, dt.datetime]:
    seg = world.plain_segment if plain else world.segment
    return seg.start_time.ToDatetime(tzinfo=dt.UTC), seg.end_time.ToDatetime(tzinfo=dt.UTC)


def fixed(**fields: Any) -> Builder:
    return lambda w, c, ctx: dict(fields)


def cam(**fields: Any) -> Builder:
    return lambda w, c, ctx: {"camera_id": w.cam, **fields}


def owner_org(**fields: Any) -> Builder:
    return lambda w, c, ctx: {"organization_id": w.orgs["owner"], **fields}


def session(**fields: Any) -> Builder:
    return lambda w, c, ctx: {"session_id": ctx.get("session_id", "pbs_missing"), **fields}


def _check_access(scope: int) -> Builder:
    def build(w: World, caller: str, ctx: dict[str, Any]) -> dict[str, Any]:
        # Services ask for a user's organisation; people may only ask for their own.
        org = w.orgs["g_in"] if caller == SERVICE else w.org_of(caller)
        return {"camera_id": w.cam, "scope": scope, "organization_id": org}

    return build


def _read_range(masked: bool) -> Builder:
    def build(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
        start, end = _seg(w, plain=not masked)
        return {
            "camera_id": w.cam if masked else w.plain_cam,
            "time_range": cpb.TimeRange(start_time=ts(start), end_time=ts(end)),
            "chunk_size_bytes": 1 << 20,
        }

    return build


def live(masked: bool, **fields: Any) -> Builder:
    return lambda w, c, ctx: {"camera_id": w.cam if masked else w.plain_cam, **fields}


def _create_session(mode: int) -> Builder:
    def build(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {"camera_id": w.cam, "mode": mode, "sdp_offer": ctx["offer"]}
        if mode == 2:
            fields["start_time"] = ts(_seg(w)[0] + dt.timedelta(seconds=0.5))
        return fields

    return build


def _grant(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from rtcc.registry.v1 import registry_pb2 as rpb

    return {
        "grant": rpb.SharingGrant(
            grantor_organization_id=w.orgs["owner"],
            grantee_organization_id=w.orgs["g_none"],
            camera_ids=[w.cam],
            recorded=True,
            expire_time=ts(dt.datetime(2001, 1, 1, tzinfo=dt.UTC)),  # refused after access
        )
    }


def _g_in_grant(**fields: Any) -> Builder:
    return lambda w, c, ctx: {"grant_id": w.grants["g_in"], **fields}


def _update_grant(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from rtcc.registry.v1 import registry_pb2 as rpb

    grant = rpb.SharingGrant(id=w.grants["g_in"], description="changed", etag="0")
    return {"grant": grant, "update_mask": {"paths": ["description"]}}


def _new_camera(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from rtcc.registry.v1 import registry_pb2 as rpb

    camera = rpb.Camera(
        organization_id=w.orgs["owner"],
        display_name="Matrix scratch camera",
        location=cpb.LatLng(latitude=LAT + 1, longitude=LNG),
        tags=["scratch"],
    )
    return {"camera": camera}


def _update_camera(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from rtcc.registry.v1 import registry_pb2 as rpb

    patch = rpb.Camera(id=w.cam, display_name="changed", etag="0")
    return {"camera": patch, "update_mask": {"paths": ["display_name"]}}


def _update_org(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from rtcc.registry.v1 import registry_pb2 as rpb

    org = rpb.Organization(id=w.orgs["owner"], display_name="changed", etag="0")
    return {"organization": org, "update_mask": {"paths": ["display_name"]}}


def _health(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from rtcc.registry.v1 import registry_pb2 as rpb

    report = rpb.CameraHealthReport(camera_id=w.cam, health={"status": rpb.CAMERA_STATUS_ONLINE})
    return {"reports": [report]}


def _detector_config(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    from rtcc.analytics.v1 import analytics_pb2 as apb

    config = apb.DetectorConfig(camera_id=w.cam, min_confidence=0.7, etag="0")
    return {"detector_config": config, "update_mask": {"paths": ["min_confidence"]}}


def _near(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"location": cpb.LatLng(latitude=LAT, longitude=LNG), "radius_meters": 500}


REG, ING, ANA, PLAY = "RegistryService", "IngestService", "AnalyticsService", "PlaybackService"
ANALYTICS_POOL, INGEST_POOL = 2, 1
CSV = b"display_name,latitude,longitude\nx,10.7,20.7\n"

SPECS: dict[str, Spec] = {
    f"{REG}.CreateOrganization": Spec(
        fixed(organization={"display_name": "Matrix org", "kind": 1})
    ),
    f"{REG}.GetOrganization": Spec(owner_org()),
    f"{REG}.ListOrganizations": Spec(fixed(page_size=1000)),
    f"{REG}.UpdateOrganization": Spec(_update_org),
    f"{REG}.DeleteOrganization": Spec(owner_org()),
    f"{REG}.CreateCamera": Spec(_new_camera),
    f"{REG}.GetCamera": Spec(cam()),
    f"{REG}.ListCameras": Spec(fixed(page_size=1000)),
    f"{REG}.UpdateCamera": Spec(_update_camera),
    f"{REG}.DeleteCamera": Spec(cam(etag="0")),
    f"{REG}.GetCameraStreamCredentials": Spec(cam()),
    f"{REG}.ReportCameraHealth": Spec(_health),
    f"{REG}.SearchCamerasNearby": Spec(_near),
    f"{REG}.WatchCameras": Spec(fixed(start_revision=1), stream_wait_s=2.0, max_messages=500),
    f"{REG}.ImportCameras": Spec(owner_org(format=1, content=CSV, validate_only=True)),
    f"{REG}.ExportCameras": Spec(owner_org(format=1)),
    f"{REG}.CreateSharingGrant": Spec(_grant),
    f"{REG}.GetSharingGrant": Spec(_g_in_grant()),
    f"{REG}.ListSharingGrants": Spec(fixed(page_size=1000, show_inactive=True)),
    f"{REG}.UpdateSharingGrant": Spec(_update_grant),
    f"{REG}.RevokeSharingGrant": Spec(_g_in_grant(etag="0", reason="matrix")),
    f"{REG}.CheckCameraAccess#live": Spec(_check_access(1)),
    f"{REG}.CheckCameraAccess#recorded": Spec(_check_access(2)),
    f"{REG}.ListAuditEntries": Spec(owner_org()),
    f"{ING}.ListCameraLeases": Spec(cam(pool=INGEST_POOL)),
    f"{ING}.AcquireCameraLease": Spec(
        cam(pool=ANALYTICS_POOL, replica_id="matrix", ttl={"seconds": 3})
    ),
    f"{ING}.RenewCameraLease": Spec(cam(pool=ANALYTICS_POOL, replica_id="matrix", epoch=0)),
    f"{ING}.ReleaseCameraLease": Spec(cam(pool=ANALYTICS_POOL, replica_id="matrix", epoch=0)),
    f"{ING}.GetSegment": Spec(lambda w, c, ctx: {"segment_id": w.segment.id}),
    f"{ING}.ListSegments": Spec(lambda w, c, ctx: {"camera_id": w.cam, "time_range": _hour(w)}),
    f"{ING}.LocateSegment": Spec(
        lambda w, c, ctx: {"camera_id": w.cam, "time": ts(_seg(w)[0] + dt.timedelta(seconds=0.5))}
    ),
    **{
        f"{ING}.{method}#{'masked' if masked else 'unmasked'}": Spec(build, wait, most)
        for masked in (True, False)
        for method, build, wait, most in (
            ("ReadRange", _read_range(masked), 15.0, 100),
            ("StreamPackets", live(masked, start_from_last_keyframe=True), 10.0, 40),
            ("StreamFrames", live(masked, fps=5, max_width=160, pixel_format=5), 10.0, 1),
        )
    },
    f"{ING}.GetStreamStatus": Spec(cam()),
    f"{ING}.ListStreamStatuses": Spec(fixed(page_size=1000)),
    f"{ING}.GetRetentionRun": Spec(lambda w, c, ctx: {"retention_run_id": w.retention_run_id}),
    f"{ING}.ListRetentionRuns": Spec(fixed()),
    f"{ING}.StartRetentionRun": Spec(fixed()),
    f"{ANA}.GetDetectorConfig": Spec(cam()),
    f"{ANA}.ListDetectorConfigs": Spec(fixed(page_size=1000)),
    f"{ANA}.UpdateDetectorConfig": Spec(_detector_config),
    f"{ANA}.GetDetectorStatus": Spec(cam()),
    f"{ANA}.ListDetectorStatuses": Spec(fixed(page_size=1000)),
    f"{ANA}.GetEvent": Spec(lambda w, c, ctx: {"event_id": w.events["cam"]}),
    f"{ANA}.ListEvents": Spec(
        lambda w, c, ctx: {"camera_ids": [w.cam], "time_range": _hour(w), "page_size": 1000}
    ),
    f"{ANA}.SearchEvents": Spec(lambda w, c, ctx: {"time_range": _hour(w), "page_size": 1000}),
    f"{ANA}.SubscribeEvents": Spec(
        lambda w, c, ctx: {"start_time": ts(_now() - dt.timedelta(hours=1))},
        stream_wait_s=2.0,
    ),
    f"{ANA}.GetPlateRead": Spec(lambda w, c, ctx: {"plate_read_id": w.plate_reads["cam"]}),
    f"{ANA}.SearchPlateReads": Spec(
        lambda w, c, ctx: {
            "query": "MTX",
            "match_mode": 2,
            "time_range": _hour(w),
            "page_size": 1000,
        }
    ),
    f"{ANA}.GetSnapshotUrl#event": Spec(lambda w, c, ctx: {"event_id": w.events["cam"]}),
    f"{ANA}.GetSnapshotUrl#plate_read": Spec(
        lambda w, c, ctx: {"plate_read_id": w.plate_reads["cam"]}
    ),
    f"{PLAY}.CreateSession#live": Spec(_create_session(1)),
    f"{PLAY}.CreateSession#recorded": Spec(_create_session(2)),
    f"{PLAY}.GetSession": Spec(session(), owner_session=True),
    f"{PLAY}.AddIceCandidate": Spec(session(), owner_session=True),
    f"{PLAY}.Seek": Spec(
        lambda w, c, ctx: {
            "session_id": ctx.get("session_id", "pbs_missing"),
            "time": ts(_seg(w)[0] + dt.timedelta(seconds=1)),
        },
        owner_session=True,
    ),
    f"{PLAY}.SetRate": Spec(session(rate=2.0), owner_session=True),
    f"{PLAY}.Pause": Spec(session(), owner_session=True),
    f"{PLAY}.Resume": Spec(session(), owner_session=True),
    f"{PLAY}.CloseSession": Spec(session(), owner_session=True),
    f"{PLAY}.StreamSessionEvents": Spec(
        session(), owner_session=True, stream_wait_s=1.5, max_messages=1
    ),
}


async def _own_case(world: World, caller: str) -> dict[str, Any]:
    """A case of the caller's own organisation to export into (none if it may not)."""
    from rtcc.evidence.v1 import evidence_pb2 as epb
    from rtcc.evidence.v1 import evidence_pb2_grpc

    stub = evidence_pb2_grpc.EvidenceServiceStub(world.channel(caller))
    try:
        reply = await stub.CreateCase(
            epb.CreateCaseRequest(case=epb.Case(title="Matrix case")), timeout=10
        )
    except grpc.aio.AioRpcError:
        return {"case_id": "cas_none"}
    return {"case_id": reply.case.id}


def _export_clip(masked: bool) -> Builder:
    def build(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
        start, end = _seg(w, plain=not masked)
        clip = {
            "camera_id": w.cam if masked else w.plain_cam,
            "time_range": cpb.TimeRange(start_time=ts(start), end_time=ts(end)),
        }
        return {"case_id": ctx.get("case_id", "cas_none"), "clip": clip}

    return build


async def _exported_file(world: World, caller: str, responses: list[Any]) -> list[Any]:
    """Wait for the export job, then download the item as the caller: its chunks."""
    from rtcc.evidence.v1 import evidence_pb2 as epb
    from rtcc.evidence.v1 import evidence_pb2_grpc

    stub = evidence_pb2_grpc.EvidenceServiceStub(world.channel(caller))
    job = responses[0].export_job
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while job.state in (epb.EXPORT_JOB_STATE_QUEUED, epb.EXPORT_JOB_STATE_RUNNING):
        if loop.time() > deadline:
            return []
        await asyncio.sleep(0.3)  # polling the job's state, with a deadline
        job = (await stub.GetExportJob(epb.GetExportJobRequest(export_job_id=job.id))).export_job
    if job.state != epb.EXPORT_JOB_STATE_SUCCEEDED:
        return []
    request = epb.DownloadItemRequest(item_id=job.item_id, purpose="authorization matrix")
    return [chunk async for chunk in stub.DownloadItem(request, timeout=60)]


SPECS["EvidenceService.ExportClip#unmasked"] = Spec(_export_clip(False), prepare=_own_case)
SPECS["EvidenceService.ExportClip#masked"] = Spec(
    _export_clip(True), prepare=_own_case, follow=_exported_file
)


def _analysis_input(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    window = cpb.TimeRange(start_time=ts(_now() - dt.timedelta(days=60)), end_time=ts(_now()))
    return {"input": {"time_range": window, "event_types": [6], "purpose": "matrix"}}


for _name in ("RunHotspotAnalysis", "RunNearRepeatAnalysis", "RunTrendAnalysis"):
    SPECS[f"{ANA}.{_name}"] = Spec(_analysis_input)
SPECS[f"{ANA}.FindSimilarAppearances"] = Spec(
    lambda w, c, ctx: {"event_id": w.events["cam"], "purpose": "matrix"}
)
SPECS[f"{ANA}.GetVehicleJourney"] = Spec(
    lambda w, c, ctx: {"plate": PLATE, "time_range": _hour(w), "purpose": "matrix"}
)


def _rule(w: World, c: str, ctx: dict[str, Any]) -> dict[str, Any]:
    trigger = {"types": [6], "camera_ids": [w.cam]}
    return {"rule": {"display_name": "Matrix rule", "analytics_event": trigger, "severity": 2}}


SPECS["AlertingService.CreateRule"] = Spec(_rule)


def generic(rpc: Rpc, world: World) -> dict[str, Any]:
    """Top-level fields named like the camera or organisation get the owner's."""
    fields: dict[str, Any] = {}
    for f in rpc.descriptor.input_type.fields:
        repeated = f.is_repeated
        if f.type != f.TYPE_STRING:
            continue
        if f.name in ("camera_id", "camera_ids"):
            fields[f.name] = [world.cam] if repeated else world.cam
        elif f.name in ("organization_id", "organization_ids"):
            org = world.orgs["owner"]
            fields[f.name] = [org] if repeated else org
    return fields


def targets_camera(rpc: Rpc, world: World) -> bool:
    return world.cam in str(generic(rpc, world).get("camera_id", "")) or bool(
        generic(rpc, world).get("camera_ids")
    )


def spec_for(key: str) -> Spec | None:
    return SPECS.get(key)


def build(rpc: Rpc, key: str, world: World, caller: str, ctx: dict[str, Any]) -> Message:
    spec = SPECS.get(key)
    fields = spec.build(world, caller, ctx) if spec else generic(rpc, world)
    return rpc.request(**fields)


__all__ = ["OWNER", "PLATFORM_ADMIN", "SPECS", "Spec", "build", "generic", "targets_camera"]
