"""The expected outcome of every RPC for every caller: the intended policy of
docs/access.md and `rtcc.registry.policy`, written down independently of the code.

The world: `cam` belongs to the owner organisation and has privacy masks; each grantee
holds one grant on it (see world.py). What each caller may see of `cam`:

| caller                 | metadata | health | analytics | live | recorded | raw |
|------------------------|----------|--------|-----------|------|----------|-----|
| owner operator         | yes      | yes    | yes       | yes  | yes      | no  |
| grantee inside window  | yes      | yes    | yes       | yes  | yes      | no  |
| grantee outside window | yes      | no     | no        | no   | no       | no  |
| live-only grantee      | yes      | yes    | yes       | yes  | no       | no  |
| recorded-only grantee  | yes      | yes    | yes       | no   | yes      | no  |
| revoked / expired grant, no grant, other org's admin | nothing (NOT_FOUND or PERMISSION_DENIED) |
| platform admin         | yes      | yes    | no        | no   | no       | no  |
| service identity       | yes      | yes    | yes       | yes  | yes      | yes |
| expired token/no token | UNAUTHENTICATED, for every RPC of every service |

As in docs/access.md: analytics covers events, plate reads, snapshots, subscriptions,
detector configs and statuses; "raw" is unmasked video of the masked camera
(`plain_cam`, without masks, follows live/recorded). Role gates come on
top: administering (cameras, grants, organisations, detector configs, imports, audit)
needs the owner's partner-admin or a platform admin; leases and retention are for
services and platform admins.

A refusal of a camera the caller can see is PERMISSION_DENIED (analytics results:
either code); of one it may not know of, either NOT_FOUND or PERMISSION_DENIED. People get video
of a masked camera only masked (playback) or a refusal. Alerting and evidence: while a
service is served by its generated base (every call UNIMPLEMENTED), only the
UNAUTHENTICATED cells are checked; once it is built, every cell must be a decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import outcomes as o
from .outcomes import (
    DENIED,
    HIDDEN,
    NOT_FOUND,
    OK,
    STALE,
    UNAUTHENTICATED,
    Allowed,
    Decided,
    Either,
    Outcome,
    filtered,
    status,
)
from .world import (
    CALLERS,
    EXPIRED,
    G_IN,
    G_LIVE,
    G_OUT,
    G_REC,
    NO_GRANT,
    OTHER_ADMIN,
    OWNER,
    PLATFORM_ADMIN,
    REVOKED,
    SERVICE,
    UNAUTHENTICATED_CALLERS,
    World,
)

Code = o.Code
INVISIBLE = (REVOKED, EXPIRED, NO_GRANT, OTHER_ADMIN)
SEES_METADATA = frozenset({OWNER, G_IN, G_OUT, G_LIVE, G_REC, PLATFORM_ADMIN, SERVICE})
o.MAY_SEE_CAM.update(
    {
        "metadata": SEES_METADATA,
        "health": frozenset({OWNER, G_IN, G_LIVE, G_REC, PLATFORM_ADMIN, SERVICE}),
        "analytics": frozenset({OWNER, G_IN, G_LIVE, G_REC, SERVICE}),
        # Detector configs and statuses: as analytics, plus platform admins, who
        # administer detectors (they are configuration and health, not results).
        "detectors": frozenset({OWNER, G_IN, G_LIVE, G_REC, PLATFORM_ADMIN, SERVICE}),
        "live": frozenset({OWNER, G_IN, G_LIVE, SERVICE}),
        "recorded": frozenset({OWNER, G_IN, G_REC, SERVICE}),
        "raw": frozenset({SERVICE}),
    }
)
o.MAY_SEE_OTHER.update(
    {
        "metadata": frozenset({OTHER_ADMIN, PLATFORM_ADMIN, SERVICE}),
        "health": frozenset({OTHER_ADMIN, PLATFORM_ADMIN, SERVICE}),
        "analytics": frozenset({OTHER_ADMIN, SERVICE}),
        "detectors": frozenset({OTHER_ADMIN, PLATFORM_ADMIN, SERVICE}),
        "live": frozenset({OTHER_ADMIN, SERVICE}),
        "recorded": frozenset({OTHER_ADMIN, SERVICE}),
        "raw": frozenset({OTHER_ADMIN, SERVICE}),
    }
)
Row = dict[str, Outcome]


def row(default: Outcome, *overrides: dict[str, Outcome]) -> Row:
    out = dict.fromkeys(CALLERS, default)
    for extra in overrides:
        out.update(extra)
    out.update(dict.fromkeys(UNAUTHENTICATED_CALLERS, UNAUTHENTICATED))
    return out


def each(callers: Iterable[str], outcome: Outcome) -> dict[str, Outcome]:
    return dict.fromkeys(callers, outcome)


def camera(what: str, allowed: Outcome = OK, refused: Outcome = DENIED) -> Row:
    """An RPC about `cam`: `allowed` for those who may see `what` of it, `refused` for
    those who see only its metadata, HIDDEN for the rest."""
    may = o.MAY_SEE_CAM[what]
    return row(
        HIDDEN,
        {c: (allowed if c in may else refused) for c in CALLERS if c in SEES_METADATA},
    )


def roles(allowed: dict[str, Outcome], *, about_cam: bool = False) -> Row:
    """An action gated by roles: DENIED except for `allowed` (HIDDEN for those who may
    not know of the owner's camera, when it is about it)."""
    return row(DENIED, each(INVISIBLE, HIDDEN) if about_cam else {}, allowed)


def ids(field: str, attr: str = "camera_id") -> Any:
    """Camera ids of the repeated `field` of every response (e.g. cameras -> id)."""

    def extract(responses: list[Any]) -> list[str]:
        found: list[str] = []
        for response in responses:
            for item in getattr(response, field):
                for part in attr.split("."):
                    item = getattr(item, part)
                found.append(item)
        return found

    return extract


def _streamed(attr: str) -> Any:
    def extract(responses: list[Any]) -> list[str]:
        out = []
        for response in responses:
            item = response
            for part in attr.split("."):
                item = getattr(item, part)
            out.append(item)
        return out

    return extract


def _access_says(what: str) -> Allowed:
    def check(world: World, caller: str, responses: list[Any]) -> str | None:
        asked_for = G_IN if caller == SERVICE else caller
        want = asked_for in o.MAY_SEE_CAM[what]
        got = bool(responses[0].allowed)
        return None if got == want else f"allowed={got}, want {want} ({responses[0].reason})"

    return Allowed(check, f"OK, allowed iff {what} may be seen")


def _no_addresses(world: World, caller: str, responses: list[Any]) -> str | None:
    camera = responses[0].camera
    shows = bool(camera.streams.main_url)
    want = caller in (OWNER, PLATFORM_ADMIN, SERVICE)
    return None if shows == want else f"stream address shown={shows}, want {want}"


def _orgs(world: World, caller: str, responses: list[Any]) -> str | None:
    listed = {org.id for r in responses for org in r.organizations}
    owner = world.orgs["owner"] in listed
    if caller in (NO_GRANT, OTHER_ADMIN) and owner:
        return "lists the owner organisation to an organisation it shares nothing with"
    if caller in (OWNER, G_IN, G_OUT, G_LIVE, G_REC, PLATFORM_ADMIN) and not owner:
        return "misses the owner organisation"
    other = world.orgs["other"] in listed
    if other and caller not in (OTHER_ADMIN, PLATFORM_ADMIN, SERVICE):
        return "lists another organisation it shares nothing with"
    return None


def _watch(world: World, caller: str, responses: list[Any]) -> str | None:
    cams = filtered("metadata", _streamed("camera_id"), complete=False).check
    assert cams is not None
    return cams(world, caller, [r for r in responses if r.camera_id]) or o.grants_of_own_org(
        world, caller, [r for r in responses if r.HasField("grant")]
    )


# People whose video of the masked camera comes only masked or not at all.
def _raw(scope: str, masked: o.Check) -> Row:
    out = camera("raw")
    for caller in o.MAY_SEE_CAM[scope] - {SERVICE}:
        out[caller] = Either((DENIED, Allowed(masked, "OK masked")))
    return out


def _results(refused: Outcome = HIDDEN) -> Row:
    return camera("analytics", OK, refused)


BAD_REQUEST = status(Code.INVALID_ARGUMENT)  # past every access check; expiry in the past
LEASE = status(Code.OK, Code.FAILED_PRECONDITION, Code.NOT_FOUND)  # past the role check
OPS = {PLATFORM_ADMIN: OK, SERVICE: OK}
SESSION = row(NOT_FOUND, {OWNER: OK})  # a session is its owner's (org and subject) alone
REG, ING, ANA, PLAY = "RegistryService", "IngestService", "AnalyticsService", "PlaybackService"

EXPECTED: dict[str, Row] = {
    f"{REG}.CreateOrganization": roles({PLATFORM_ADMIN: OK}),
    f"{REG}.GetOrganization": row(
        OK,
        each((NO_GRANT, OTHER_ADMIN), NOT_FOUND),
        each((REVOKED, EXPIRED), status(Code.OK, Code.NOT_FOUND)),
    ),
    f"{REG}.ListOrganizations": row(Allowed(_orgs, "OK filtered (organisations)")),
    f"{REG}.UpdateOrganization": roles({PLATFORM_ADMIN: STALE}, about_cam=True),
    f"{REG}.DeleteOrganization": roles({PLATFORM_ADMIN: STALE}, about_cam=True),
    f"{REG}.CreateCamera": roles({PLATFORM_ADMIN: OK}, about_cam=True),
    f"{REG}.GetCamera": camera("metadata", Allowed(_no_addresses, "OK (addresses to owner)")),
    f"{REG}.ListCameras": row(filtered("metadata", ids("cameras", "id"))),
    f"{REG}.UpdateCamera": roles({PLATFORM_ADMIN: STALE}, about_cam=True),
    f"{REG}.DeleteCamera": roles({PLATFORM_ADMIN: STALE}, about_cam=True),
    # SERVICE is service:ingest, the only one that may read stream credentials.
    f"{REG}.GetCameraStreamCredentials": roles({SERVICE: OK}, about_cam=True),
    f"{REG}.ReportCameraHealth": roles({SERVICE: OK}, about_cam=True),
    f"{REG}.SearchCamerasNearby": row(filtered("metadata", ids("results", "camera.id"))),
    f"{REG}.WatchCameras": row(Allowed(_watch, "OK filtered (changes)")),
    f"{REG}.ImportCameras": roles({PLATFORM_ADMIN: OK}, about_cam=True),
    f"{REG}.ExportCameras": roles({PLATFORM_ADMIN: OK}, about_cam=True),
    f"{REG}.CreateSharingGrant": roles({PLATFORM_ADMIN: BAD_REQUEST}, about_cam=True),
    f"{REG}.GetSharingGrant": row(HIDDEN, each((OWNER, G_IN, PLATFORM_ADMIN, SERVICE), OK)),
    f"{REG}.ListSharingGrants": row(Allowed(o.grants_of_own_org, "OK filtered (grants)")),
    f"{REG}.UpdateSharingGrant": row(
        HIDDEN, each((OWNER, G_IN, SERVICE), DENIED), {PLATFORM_ADMIN: STALE}
    ),
    f"{REG}.RevokeSharingGrant": row(
        HIDDEN, each((OWNER, G_IN, SERVICE), DENIED), {PLATFORM_ADMIN: STALE}
    ),
    f"{REG}.CheckCameraAccess#live": row(
        HIDDEN,
        each(SEES_METADATA - {PLATFORM_ADMIN}, _access_says("live")),
        {PLATFORM_ADMIN: Either((_access_says("live"), DENIED))},
    ),
    f"{REG}.CheckCameraAccess#recorded": row(
        HIDDEN,
        each(SEES_METADATA - {PLATFORM_ADMIN}, _access_says("recorded")),
        {PLATFORM_ADMIN: Either((_access_says("recorded"), DENIED))},
    ),
    f"{REG}.ListAuditEntries": roles({PLATFORM_ADMIN: OK}, about_cam=True),
    f"{ING}.ListCameraLeases": roles(OPS),
    f"{ING}.AcquireCameraLease": roles(each(OPS, LEASE)),
    f"{ING}.RenewCameraLease": roles(each(OPS, LEASE)),
    f"{ING}.ReleaseCameraLease": roles(each(OPS, LEASE)),
    f"{ING}.GetSegment": camera("recorded"),
    f"{ING}.ListSegments": camera("recorded"),
    f"{ING}.LocateSegment": camera("recorded"),
    f"{ING}.ReadRange#masked": _raw("recorded", o.masked_mp4),
    f"{ING}.StreamPackets#masked": _raw("live", o.masked_packets),
    f"{ING}.StreamFrames#masked": _raw("live", o.masked_frames),
    # The owner's camera without masks: its video is the same for everyone allowed.
    f"{ING}.ReadRange#unmasked": camera("recorded"),
    f"{ING}.StreamPackets#unmasked": camera("live"),
    f"{ING}.StreamFrames#unmasked": camera("live"),
    f"{ING}.GetStreamStatus": camera("health"),
    f"{ING}.ListStreamStatuses": row(filtered("health", ids("statuses"), complete=False)),
    f"{ING}.GetRetentionRun": roles(OPS),
    f"{ING}.ListRetentionRuns": roles(OPS),
    f"{ING}.StartRetentionRun": roles(OPS),
    # Changing detector configs is the owner's admins' (or a platform admin's) business.
    # docs/access.md: detector configs and statuses follow analytics, and platform
    # admins (who administer detectors) read every camera's.
    f"{ANA}.GetDetectorConfig": camera("detectors", OK, HIDDEN),
    f"{ANA}.ListDetectorConfigs": row(filtered("detectors", ids("detector_configs"))),
    f"{ANA}.UpdateDetectorConfig": roles({PLATFORM_ADMIN: STALE}, about_cam=True),
    f"{ANA}.GetDetectorStatus": camera("detectors", OK, HIDDEN),
    f"{ANA}.ListDetectorStatuses": row(filtered("detectors", ids("statuses"))),
    f"{ANA}.GetEvent": _results(),
    f"{ANA}.ListEvents": row(
        Either((filtered("analytics", ids("events"), complete=False), HIDDEN)),
        each(o.MAY_SEE_CAM["analytics"], filtered("analytics", ids("events"), complete=False)),
    ),
    f"{ANA}.SearchEvents": row(filtered("analytics", ids("events"))),
    f"{ANA}.SubscribeEvents": row(filtered("analytics", _streamed("event.camera_id"))),
    f"{ANA}.GetPlateRead": _results(),
    f"{ANA}.SearchPlateReads": row(filtered("analytics", ids("matches", "plate_read.camera_id"))),
    f"{ANA}.GetSnapshotUrl#event": _results(),
    f"{ANA}.GetSnapshotUrl#plate_read": _results(),
    # People get a masked (transcoded) session of a masked camera: OK.
    f"{PLAY}.CreateSession#live": camera("live"),
    f"{PLAY}.CreateSession#recorded": camera("recorded"),
    f"{PLAY}.GetSession": SESSION,
    f"{PLAY}.AddIceCandidate": SESSION,
    f"{PLAY}.Seek": SESSION,
    f"{PLAY}.SetRate": SESSION,
    f"{PLAY}.Pause": SESSION,
    f"{PLAY}.Resume": SESSION,
    f"{PLAY}.CloseSession": SESSION,
    f"{PLAY}.StreamSessionEvents": SESSION,
}


def _analysis() -> Row:
    """Crime analysis over analytics events: a decision for those who may see them; for
    the rest a refusal or an answer naming none of the owner's cameras."""
    return row(
        Decided(),
        {c: Decided(refused=True) for c in CALLERS if c not in o.MAY_SEE_CAM["analytics"]},
    )


for _name in ("RunHotspotAnalysis", "RunNearRepeatAnalysis", "RunTrendAnalysis"):
    EXPECTED[f"{ANA}.{_name}"] = _analysis()
EXPECTED[f"{ANA}.GetAnalysisRun"] = row(Decided())
EXPECTED[f"{ANA}.FindSimilarAppearances"] = row(
    Decided(), each(set(CALLERS) - o.MAY_SEE_CAM["analytics"], HIDDEN)
)
EXPECTED[f"{ANA}.GetVehicleJourney"] = row(
    Either((filtered("analytics", o.camera_ids_anywhere, complete=False), HIDDEN)),
    each(
        o.MAY_SEE_CAM["analytics"],
        filtered("analytics", o.camera_ids_anywhere, complete=False),
    ),
)

# Services being built now: their RPCs must answer with a decision once they are
# (camera-scoped requests: a refusal for those who may not see the camera's video).
PENDING_SERVICES = ("AlertingService", "EvidenceService")
ALERTING = (
    "CreateRule GetRule ListRules UpdateRule DeleteRule PublishExternalEvent "
    "GetExternalEvent ListExternalEvents GetAlert ListAlerts StreamAlerts AcknowledgeAlert "
    "AssignAlert ResolveAlert AddAlertNote GetAlertContext CreateNotificationChannel "
    "GetNotificationChannel ListNotificationChannels UpdateNotificationChannel "
    "DeleteNotificationChannel TestNotificationChannel DismissAlert MergeAlerts "
    "CreateHotlist ListHotlists ImportHotlist ListHotlistHits VerifyHotlistHit "
    "ListRecordingHolds ReleaseRecordingHold"
).split()
EVIDENCE = (
    "CreateCase GetCase ListCases UpdateCase DeleteCase SetLegalHold CreateItem GetItem "
    "ListItems UpdateItem DeleteItem UploadFile DownloadItem ExportClip GetExportJob "
    "ListExportJobs CancelExportJob ListCustodyEntries VerifyCustodyChain CreateShareLink "
    "GetShareLink ListShareLinks RevokeShareLink CreateEvidenceRequest GetEvidenceRequest "
    "ListEvidenceRequests RespondToEvidenceRequest CancelEvidenceRequest GetCustodyProof "
    "ExportPackage DownloadPackage RunEvidenceRetention"
).split()
DECIDED = row(Decided())
CAMERA_DECIDED = row(Decided(), each((*INVISIBLE, G_OUT, PLATFORM_ADMIN), Decided(refused=True)))
for _service, _names in (("AlertingService", ALERTING), ("EvidenceService", EVIDENCE)):
    for _name in _names:
        EXPECTED[f"{_service}.{_name}"] = DECIDED


# A clip exported into evidence is recorded video: refused to those who may not see
# it; of the masked camera, people get it masked (downloaded and decoded) or refused.
_NO_RECORDED = {
    c: Decided(refused=True)
    for c in CALLERS
    if c not in o.MAY_SEE_CAM["recorded"] and c not in UNAUTHENTICATED_CALLERS
}
EXPORTS = {
    "EvidenceService.ExportClip#unmasked": row(Decided(), _NO_RECORDED),
    "EvidenceService.ExportClip#masked": row(
        Decided(),
        _NO_RECORDED,
        each(
            o.MAY_SEE_CAM["recorded"] - {SERVICE},
            Either((Decided(refused=True), Allowed(o.masked_download, "OK masked"))),
        ),
    ),
}
# A rule on the owner's camera's events: only for those who may see its analytics.
EXPORTS["AlertingService.CreateRule"] = _analysis()
CAMERA_SCOPED = frozenset(EXPORTS)
del EXPECTED["EvidenceService.ExportClip"]  # rows per variant instead
EXPECTED.update(EXPORTS)


def expected_for(key: str, camera_scoped: bool) -> Row:
    """The row of `key`; pending services' camera-scoped requests must refuse more."""
    service = key.split(".")[0]
    if key in EXPORTS:
        return EXPORTS[key]
    if service in PENDING_SERVICES and camera_scoped:
        return CAMERA_DECIDED
    return EXPECTED[key]
