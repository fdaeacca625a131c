"""Access isolation between organisations: every role against every resource.

The world: a police department (agency) and two partner shops, A and B. Shop A shares
one of its two cameras with the police, live only; shop B shares nothing. Each row of
TABLE is one thing done by every caller, and the status each must get. Calls that would
change the world use a stale etag, so FAILED_PRECONDITION proves the caller got past
every access check without changing anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import pytest_asyncio

from rtcc.core.auth import PLATFORM_ORG
from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry, Stub, make_camera

OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
HIDDEN = grpc.StatusCode.NOT_FOUND
AUTHORISED = grpc.StatusCode.FAILED_PRECONDITION  # got past access checks; stale etag

# name -> (organisation key, roles, subject)
PRINCIPALS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "pd-operator": ("pd", ("operator",), "op@pd"),
    "pd-investigator": ("pd", ("investigator",), "inv@pd"),
    "pd-analyst": ("pd", ("analyst",), "an@pd"),
    "pd-admin": ("pd", ("partner-admin",), "admin@pd"),
    "a-operator": ("a", ("operator",), "op@a"),
    "a-admin": ("a", ("partner-admin",), "admin@a"),
    "b-admin": ("b", ("partner-admin",), "admin@b"),
    "platform-admin": ("platform", ("platform-admin",), "root@city"),
    "ingest": ("platform", ("service",), "service:ingest"),
    "alerting": ("platform", ("service",), "service:alerting"),
    "no-role": ("pd", (), "nobody@pd"),
}


@dataclass
class World:
    orgs: dict[str, str]
    a1: pb.Camera  # shared with the police, live only
    a2: pb.Camera  # not shared
    b1: pb.Camera
    pd1: pb.Camera
    grant: pb.SharingGrant

    @property
    def ids(self) -> set[str]:
        return {self.a1.id, self.a2.id, self.b1.id, self.pd1.id}


@pytest_asyncio.fixture(scope="module")
async def world(registry: Registry) -> World:
    orgs = {
        "pd": await registry.org(pb.ORGANIZATION_KIND_AGENCY, "Police"),
        "a": await registry.org(name="Shop A"),
        "b": await registry.org(name="Shop B"),
        "platform": PLATFORM_ORG,
    }
    # A lonely spot far from other tests' cameras, so searches see only the world.
    lat, lon = 10.5, 20.5
    a1 = await registry.camera(orgs["a"], lat, lon, streams={"main_url": "rtsp://10.1.0.1/s"})
    a2 = await registry.camera(orgs["a"], lat + 0.0001, lon)
    b1 = await registry.camera(orgs["b"], lat, lon + 0.0001)
    pd1 = await registry.camera(orgs["pd"], lat - 0.0001, lon)
    grant = (
        await registry.stub(orgs["a"], "partner-admin").CreateSharingGrant(
            pb.CreateSharingGrantRequest(
                grant=pb.SharingGrant(
                    grantee_organization_id=orgs["pd"], camera_ids=[a1.id], live=True
                )
            )
        )
    ).grant
    return World(orgs, a1, a2, b1, pd1, grant)


def caller(registry: Registry, world: World, name: str) -> Stub:
    org_key, roles, subject = PRINCIPALS[name]
    return registry.stub(world.orgs[org_key], *roles, subject=subject)


Action = Callable[[Stub, World], Awaitable[Any]]


def get(camera: str) -> Action:
    return lambda s, w: s.GetCamera(pb.GetCameraRequest(camera_id=getattr(w, camera).id))


def update(camera: str) -> Action:
    def act(s: Stub, w: World) -> Awaitable[Any]:
        patch = pb.Camera(id=getattr(w, camera).id, display_name="x", etag="0")
        mask = {"paths": ["display_name"]}
        return s.UpdateCamera(pb.UpdateCameraRequest(camera=patch, update_mask=mask))

    return act


def delete(camera: str) -> Action:
    return lambda s, w: s.DeleteCamera(
        pb.DeleteCameraRequest(camera_id=getattr(w, camera).id, etag="0")
    )


def create_in(org: str) -> Action:
    return lambda s, w: s.CreateCamera(
        pb.CreateCameraRequest(camera=make_camera(w.orgs[org], 10.6, 20.6))
    )


def credentials(s: Stub, w: World) -> Awaitable[Any]:
    return s.GetCameraStreamCredentials(pb.GetCameraStreamCredentialsRequest(camera_id=w.a1.id))


def health(s: Stub, w: World) -> Awaitable[Any]:
    report = pb.CameraHealthReport(camera_id=w.a2.id, health={"status": pb.CAMERA_STATUS_ONLINE})
    return s.ReportCameraHealth(pb.ReportCameraHealthRequest(reports=[report]))


def grant_from(org: str) -> Action:
    def act(s: Stub, w: World) -> Awaitable[Any]:
        g = pb.SharingGrant(
            grantor_organization_id=w.orgs[org],
            grantee_organization_id=w.orgs["b" if org != "b" else "a"],
            camera_ids=[w.a2.id],
            recorded=True,
            expire_time={"seconds": 1},  # in the past: refused after the access checks
        )
        return s.CreateSharingGrant(pb.CreateSharingGrantRequest(grant=g))

    return act


def get_grant(s: Stub, w: World) -> Awaitable[Any]:
    return s.GetSharingGrant(pb.GetSharingGrantRequest(grant_id=w.grant.id))


def revoke_grant(s: Stub, w: World) -> Awaitable[Any]:
    return s.RevokeSharingGrant(pb.RevokeSharingGrantRequest(grant_id=w.grant.id, etag="0"))


def audit_of(org: str) -> Action:
    return lambda s, w: s.ListAuditEntries(pb.ListAuditEntriesRequest(organization_id=w.orgs[org]))


def export_of(org: str) -> Action:
    return lambda s, w: s.ExportCameras(
        pb.ExportCamerasRequest(organization_id=w.orgs[org], format=pb.INVENTORY_FORMAT_CSV)
    )


def import_into(org: str) -> Action:
    return lambda s, w: s.ImportCameras(
        pb.ImportCamerasRequest(
            organization_id=w.orgs[org],
            format=pb.INVENTORY_FORMAT_CSV,
            content=b"display_name,latitude,longitude\nx,10.7,20.7\n",
            validate_only=True,
        )
    )


def get_org(org: str) -> Action:
    return lambda s, w: s.GetOrganization(pb.GetOrganizationRequest(organization_id=w.orgs[org]))


def create_org(s: Stub, w: World) -> Awaitable[Any]:
    org = pb.Organization(display_name="New", kind=pb.ORGANIZATION_KIND_COMMUNITY)
    return s.CreateOrganization(pb.CreateOrganizationRequest(organization=org))


def check_for(org: str, camera: str = "a1") -> Action:
    return lambda s, w: s.CheckCameraAccess(
        pb.CheckCameraAccessRequest(
            camera_id=getattr(w, camera).id,
            scope=pb.ACCESS_SCOPE_LIVE,
            organization_id=w.orgs[org],
        )
    )


USERS_PD = ("pd-operator", "pd-investigator", "pd-analyst", "pd-admin")
EVERYONE = (*USERS_PD, "a-operator", "a-admin", "b-admin", "platform-admin", "ingest", "alerting")


Expected = dict[str, grpc.StatusCode]


def rows(action: str, expected: Expected) -> tuple[str, Expected]:
    missing = set(EVERYONE) - set(expected)
    assert not missing, f"{action} lacks {missing}"
    return action, {**expected, "no-role": DENIED}


def each(names: tuple[str, ...], code: grpc.StatusCode) -> dict[str, grpc.StatusCode]:
    return dict.fromkeys(names, code)


ACTIONS: dict[str, Action] = {
    "get shared camera": get("a1"),
    "get unshared camera": get("a2"),
    "get other partner's camera": get("b1"),
    "update shared camera": update("a1"),
    "delete shared camera": delete("a1"),
    "create camera in A": create_in("a"),
    "read stream credentials": credentials,
    "report health": health,
    "grant A's cameras": grant_from("a"),
    "get grant": get_grant,
    "revoke grant": revoke_grant,
    "list A's audit": audit_of("a"),
    "export A's cameras": export_of("a"),
    "import into A": import_into("a"),
    "get partner B": get_org("b"),
    "get agency": get_org("pd"),
    "create organisation": create_org,
    "check access for own org": check_for("pd"),
    "check access for B": check_for("b"),
}
ADMINS_OF_A = {"a-admin": OK, "platform-admin": OK}
SERVICES = ("ingest", "alerting")
TABLE = dict(
    [
        rows("get shared camera", {**each(EVERYONE, OK), "b-admin": HIDDEN}),
        rows(
            "get unshared camera",
            {**each(EVERYONE, OK), **each(USERS_PD, HIDDEN), "b-admin": HIDDEN},
        ),
        rows(
            "get other partner's camera",
            {**each(EVERYONE, HIDDEN), "b-admin": OK, "platform-admin": OK, **each(SERVICES, OK)},
        ),
        rows(
            "update shared camera",
            {
                **each(EVERYONE, DENIED),
                "b-admin": HIDDEN,
                "a-admin": AUTHORISED,
                "platform-admin": AUTHORISED,
            },
        ),
        rows(
            "delete shared camera",
            {
                **each(EVERYONE, DENIED),
                "b-admin": HIDDEN,
                "a-admin": AUTHORISED,
                "platform-admin": AUTHORISED,
            },
        ),
        rows("create camera in A", {**each(EVERYONE, DENIED), **ADMINS_OF_A}),
        rows("read stream credentials", {**each(EVERYONE, DENIED), "ingest": OK}),
        rows("report health", {**each(EVERYONE, DENIED), "ingest": OK}),
        rows(
            "grant A's cameras",
            {
                **each(EVERYONE, DENIED),
                "a-admin": grpc.StatusCode.INVALID_ARGUMENT,
                "platform-admin": grpc.StatusCode.INVALID_ARGUMENT,
            },
        ),
        rows("get grant", {**each(EVERYONE, OK), "b-admin": HIDDEN}),
        rows(
            "revoke grant",
            {
                **each(EVERYONE, DENIED),
                "b-admin": HIDDEN,
                "a-admin": AUTHORISED,
                "platform-admin": AUTHORISED,
            },
        ),
        rows("list A's audit", {**each(EVERYONE, DENIED), **ADMINS_OF_A}),
        rows("export A's cameras", {**each(EVERYONE, DENIED), **ADMINS_OF_A}),
        rows("import into A", {**each(EVERYONE, DENIED), **ADMINS_OF_A}),
        rows(
            "get partner B",
            {**each(EVERYONE, HIDDEN), "b-admin": OK, "platform-admin": OK, **each(SERVICES, OK)},
        ),
        rows("get agency", each(EVERYONE, OK)),
        rows("create organisation", {**each(EVERYONE, DENIED), "platform-admin": OK}),
        rows(
            "check access for own org",
            {**each(EVERYONE, DENIED), **each(USERS_PD, OK), **each(SERVICES, OK)},
        ),
        rows(
            "check access for B",
            {**each(EVERYONE, DENIED), "b-admin": HIDDEN, **each(SERVICES, OK)},
        ),
    ]
)


@pytest.mark.parametrize("action", sorted(TABLE))
async def test_access_table(registry: Registry, world: World, action: str) -> None:
    """One action, every caller: each gets exactly the status in the table."""
    wrong = []
    for who, expected in TABLE[action].items():
        try:
            await ACTIONS[action](caller(registry, world, who), world)
            code = OK
        except grpc.aio.AioRpcError as err:
            code = err.code()
        if code != expected:
            wrong.append(f"{who}: got {code.name}, want {expected.name}")
    assert not wrong, f"{action}: " + "; ".join(wrong)


VISIBLE = {
    "pd-operator": {"a1", "pd1"},
    "pd-admin": {"a1", "pd1"},
    "a-operator": {"a1", "a2"},
    "b-admin": {"b1"},
    "platform-admin": {"a1", "a2", "b1", "pd1"},
    "alerting": {"a1", "a2", "b1", "pd1"},
}


def names(world: World, ids: set[str]) -> set[str]:
    by_id = {world.a1.id: "a1", world.a2.id: "a2", world.b1.id: "b1", world.pd1.id: "pd1"}
    return {by_id[i] for i in ids if i in by_id}


@pytest.mark.parametrize("who", sorted(VISIBLE))
async def test_list_and_search_show_exactly_what_the_caller_may_see(
    registry: Registry, world: World, who: str
) -> None:
    stub = caller(registry, world, who)
    listed: set[str] = set()
    token = ""
    while True:
        page = await stub.ListCameras(pb.ListCamerasRequest(page_size=1000, page_token=token))
        listed |= {c.id for c in page.cameras}
        token = page.next_page_token
        if not token:
            break
    found = await stub.SearchCamerasNearby(
        pb.SearchCamerasNearbyRequest(
            location={"latitude": 10.5, "longitude": 20.5}, radius_meters=100
        )
    )
    assert names(world, listed) == VISIBLE[who]
    assert names(world, {r.camera.id for r in found.results}) == VISIBLE[who]


async def test_grantees_never_see_stream_addresses_but_owners_do(
    registry: Registry, world: World
) -> None:
    request = pb.GetCameraRequest(camera_id=world.a1.id)
    as_police = (await caller(registry, world, "pd-operator").GetCamera(request)).camera
    as_owner = (await caller(registry, world, "a-operator").GetCamera(request)).camera
    assert as_police.streams.main_url == "" and as_owner.streams.main_url == "rtsp://10.1.0.1/s"
    assert as_police.caller_access.live and not as_police.caller_access.recorded
    assert list(as_police.caller_access.grant_ids) == [world.grant.id]
    assert as_owner.caller_access.owner
