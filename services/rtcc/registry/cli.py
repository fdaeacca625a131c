"""`rtcc org|camera|grant …`: the registry's admin commands, talking gRPC to a server.

    rtcc org add --name "Detroit PD" --kind agency --id org_dpd
    rtcc camera add --org org_shop --name "Pump 3" --lat 42.33 --lon -83.04 \\
        --heading 90 --angle 60 --range 40 --main-url rtsp://10.0.0.5/s --username viewer \\
        --password-stdin < password.txt
    rtcc camera list | nearby --lat 42.33 --lon -83.04 --radius 500 | import cameras.csv
    rtcc grant add --to org_dpd --all --live --window 22:00-06:00 --tz America/Detroit
    rtcc grant revoke grt_… --reason "contract ended"

Every command takes --address (default 127.0.0.1:50051) and --token (default: the
RTCC_TOKEN environment variable); mint a token with `rtcc token`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from rtcc.common.v1 import common_pb2
from rtcc.core.clients import open_channel
from rtcc.core.config import load_settings
from rtcc.registry.v1 import registry_pb2 as pb
from rtcc.registry.v1 import registry_pb2_grpc as pbg

Stub = pbg.RegistryServiceStub
KINDS = {
    "agency": pb.ORGANIZATION_KIND_AGENCY,
    "partner-business": pb.ORGANIZATION_KIND_PARTNER_BUSINESS,
    "community": pb.ORGANIZATION_KIND_COMMUNITY,
}
DAYS = {name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 1)}
FORMATS = {"csv": pb.INVENTORY_FORMAT_CSV, "geojson": pb.INVENTORY_FORMAT_GEOJSON}
STATUS = {v: k.removeprefix("CAMERA_STATUS_").lower() for k, v in pb.CameraStatus.items()}


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows as left-aligned columns (stable, greppable)."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _command(run: Callable[[Stub, argparse.Namespace], Awaitable[int]]) -> Callable[..., Any]:
    """Wrap a command: open the channel with the token, turn RPC errors into a message."""

    async def wrapper(args: argparse.Namespace) -> int:
        if not args.token:
            print(
                "error: no token: pass --token or set RTCC_TOKEN (see `rtcc token`)",
                file=sys.stderr,
            )
            return 2
        token: str = args.token
        tls = load_settings(args.config).tls  # RTCC_TLS__* as for the servers
        async with open_channel(args.address, lambda: token, tls=tls) as channel:
            try:
                return await run(Stub(channel), args)
            except grpc.aio.AioRpcError as err:
                print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
                return 1

    return wrapper


def _timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _window(value: str) -> tuple[int, int, int, int]:
    """`22:00-06:00` → (22, 0, 6, 0)."""
    try:
        start, end = value.split("-")
        (sh, sm), (eh, em) = (map(int, part.split(":")) for part in (start, end))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not HH:MM-HH:MM") from None
    return sh, sm, eh, em


# ---- org ---------------------------------------------------------------------------


async def _org_add(stub: Stub, args: argparse.Namespace) -> int:
    org = pb.Organization(display_name=args.name, kind=KINDS[args.kind], contact_email=args.email)
    reply = await stub.CreateOrganization(
        pb.CreateOrganizationRequest(organization=org, organization_id=args.id)
    )
    print(reply.organization.id)
    return 0


async def _org_list(stub: Stub, args: argparse.Namespace) -> int:
    rows, token = [], ""
    while True:
        page = await stub.ListOrganizations(
            pb.ListOrganizationsRequest(page_size=1000, page_token=token)
        )
        kinds = {v: k for k, v in KINDS.items()}
        rows += [(o.id, kinds.get(o.kind, "?"), o.display_name) for o in page.organizations]
        if not (token := page.next_page_token):
            break
    _table(("ID", "KIND", "NAME"), rows)
    return 0


# ---- camera ------------------------------------------------------------------------


def _camera_from(args: argparse.Namespace) -> pb.Camera:
    camera = pb.Camera(
        organization_id=args.org or "",
        display_name=args.name,
        external_id=args.external_id,
        address=args.street_address,
        location=common_pb2.LatLng(latitude=args.lat, longitude=args.lon),
        tags=args.tag,
        vendor=args.vendor,
        model=args.model,
    )
    if args.range is not None:
        camera.field_of_view.heading_degrees = args.heading
        camera.field_of_view.angle_degrees = args.angle
        camera.field_of_view.range_meters = args.range
    if args.main_url:
        camera.streams.main_url = args.main_url
        camera.streams.sub_url = args.sub_url
    if args.username or args.password_stdin:
        camera.streams.credentials.username = args.username
        if args.password_stdin:
            camera.streams.credentials.password = sys.stdin.readline().rstrip("\n")
    return camera


async def _camera_add(stub: Stub, args: argparse.Namespace) -> int:
    reply = await stub.CreateCamera(pb.CreateCameraRequest(camera=_camera_from(args)))
    print(reply.camera.id)
    return 0


async def _camera_list(stub: Stub, args: argparse.Namespace) -> int:
    rows, token = [], ""
    while True:
        page = await stub.ListCameras(
            pb.ListCamerasRequest(
                page_size=1000, page_token=token, organization_id=args.org, tag=args.tag
            )
        )
        for c in page.cameras:
            where = f"{c.location.latitude:.6f},{c.location.longitude:.6f}"
            rows.append((c.id, c.organization_id, where, STATUS[c.health.status], c.display_name))
        if not (token := page.next_page_token):
            break
    _table(("ID", "ORG", "LOCATION", "STATUS", "NAME"), rows)
    return 0


async def _camera_nearby(stub: Stub, args: argparse.Namespace) -> int:
    reply = await stub.SearchCamerasNearby(
        pb.SearchCamerasNearbyRequest(
            location=common_pb2.LatLng(latitude=args.lat, longitude=args.lon),
            radius_meters=args.radius,
            max_results=args.max,
            facing_only=args.facing,
        )
    )
    rows = [
        (
            f"{r.distance_meters:.0f}",
            "yes" if r.in_field_of_view else "no",
            r.camera.id,
            r.camera.organization_id,
            r.camera.display_name,
        )
        for r in reply.results
    ]
    _table(("METRES", "FACING", "ID", "ORG", "NAME"), rows)
    return 0


async def _camera_import(stub: Stub, args: argparse.Namespace) -> int:
    path = Path(args.file)
    fmt = args.format or ("geojson" if path.suffix.lower() in (".geojson", ".json") else "csv")
    reply = await stub.ImportCameras(
        pb.ImportCamerasRequest(
            organization_id=args.org or "",
            format=FORMATS[fmt],
            content=await asyncio.to_thread(path.read_bytes),
            all_or_nothing=args.all_or_nothing,
            validate_only=args.dry_run,
        )
    )
    rejected = [r for r in reply.rows if r.outcome == pb.IMPORT_ROW_OUTCOME_REJECTED]
    if rejected:
        _table(
            ("ROW", "EXTERNAL_ID", "FIELD", "REASON"),
            [(r.row, r.external_id, r.field, r.message) for r in rejected],
        )
    valid = sum(r.outcome == pb.IMPORT_ROW_OUTCOME_VALID for r in reply.rows)
    print(
        f"created {reply.created_count}, valid but not imported {valid}, rejected {len(rejected)}"
    )
    return 1 if rejected else 0


# ---- grant -------------------------------------------------------------------------


def _grant_from(args: argparse.Namespace) -> pb.SharingGrant:
    grant = pb.SharingGrant(
        grantor_organization_id=args.from_org or "",
        grantee_organization_id=args.to,
        all_cameras=args.all,
        camera_ids=args.camera,
        live=args.live,
        recorded=args.recorded,
        description=args.note,
    )
    if args.window:
        grant.schedule.time_zone = args.tz
        days = [DAYS[d.strip().lower()[:3]] for d in args.days.split(",")] if args.days else []
        for sh, sm, eh, em in args.window:
            window = grant.schedule.windows.add(days=days)  # type: ignore[arg-type]
            window.start.hours, window.start.minutes = sh, sm
            window.end.hours, window.end.minutes = eh, em
    if args.starts:
        grant.start_time.FromDatetime(_timestamp(args.starts))
    if args.expires:
        grant.expire_time.FromDatetime(_timestamp(args.expires))
    return grant


async def _grant_add(stub: Stub, args: argparse.Namespace) -> int:
    reply = await stub.CreateSharingGrant(pb.CreateSharingGrantRequest(grant=_grant_from(args)))
    print(reply.grant.id)
    return 0


async def _grant_revoke(stub: Stub, args: argparse.Namespace) -> int:
    reply = await stub.RevokeSharingGrant(
        pb.RevokeSharingGrantRequest(grant_id=args.grant_id, reason=args.reason)
    )
    print(f"{reply.grant.id} revoked")
    return 0


async def _grant_list(stub: Stub, args: argparse.Namespace) -> int:
    states = {
        v: k.removeprefix("SHARING_GRANT_STATE_").lower() for k, v in pb.SharingGrantState.items()
    }
    rows, token = [], ""
    while True:
        page = await stub.ListSharingGrants(
            pb.ListSharingGrantsRequest(page_size=1000, page_token=token, show_inactive=args.all)
        )
        for g in page.grants:
            scope = "+".join(s for s, on in (("live", g.live), ("recorded", g.recorded)) if on)
            what = "all" if g.all_cameras else f"{len(g.camera_ids)} cameras"
            rows.append(
                (
                    g.id,
                    g.grantor_organization_id,
                    g.grantee_organization_id,
                    what,
                    scope,
                    states[g.state],
                )
            )
        if not (token := page.next_page_token):
            break
    _table(("ID", "FROM", "TO", "CAMERAS", "SCOPE", "STATE"), rows)
    return 0


# ---- wiring ------------------------------------------------------------------------


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", default="127.0.0.1:50051", help="registry gRPC address")
    parser.add_argument(
        "--token", default=os.environ.get("RTCC_TOKEN", ""), help="bearer token (env RTCC_TOKEN)"
    )


def _leaf(
    group: Any, name: str, run: Callable[..., Awaitable[int]], help: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help)
    _connection(parser)
    parser.set_defaults(run=_command(run), is_async=True)
    return parser


def _camera_commands(group: Any) -> None:
    add = _leaf(group, "add", _camera_add, "register a camera")
    add.add_argument("--org", help="owner (default: your organisation)")
    add.add_argument("--name", required=True)
    add.add_argument("--lat", type=float, required=True)
    add.add_argument("--lon", type=float, required=True)
    add.add_argument("--heading", type=float, default=0.0, help="degrees from north")
    add.add_argument("--angle", type=float, default=90.0, help="angle of view in degrees")
    add.add_argument("--range", type=float, help="view range in metres (sets the field of view)")
    add.add_argument("--main-url", default="")
    add.add_argument("--sub-url", default="")
    add.add_argument("--username", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--external-id", default="")
    add.add_argument("--street-address", default="")
    add.add_argument("--vendor", default="")
    add.add_argument("--model", default="")
    add.add_argument("--tag", action="append", default=[])
    listing = _leaf(group, "list", _camera_list, "list the cameras you may see")
    listing.add_argument("--org", default="")
    listing.add_argument("--tag", default="")
    nearby = _leaf(group, "nearby", _camera_nearby, "cameras near a point, nearest first")
    nearby.add_argument("--lat", type=float, required=True)
    nearby.add_argument("--lon", type=float, required=True)
    nearby.add_argument("--radius", type=float, default=500.0, help="metres")
    nearby.add_argument("--max", type=int, default=50)
    nearby.add_argument("--facing", action="store_true", help="only cameras facing the point")
    imports = _leaf(group, "import", _camera_import, "import a CSV or GeoJSON inventory")
    imports.add_argument("file")
    imports.add_argument("--org", help="owner (default: your organisation)")
    imports.add_argument("--format", choices=sorted(FORMATS), help="default: by file extension")
    imports.add_argument("--all-or-nothing", action="store_true")
    imports.add_argument("--dry-run", action="store_true", help="validate and report only")


def _grant_commands(group: Any) -> None:
    add = _leaf(group, "add", _grant_add, "share cameras with another organisation")
    add.add_argument("--to", required=True, help="grantee organisation id")
    add.add_argument("--from", dest="from_org", help="grantor (platform admins only)")
    which = add.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every camera, now and later")
    which.add_argument("--camera", action="append", default=[], help="a camera id (repeat)")
    add.add_argument("--live", action="store_true")
    add.add_argument("--recorded", action="store_true")
    add.add_argument("--window", type=_window, action="append", default=[], help="HH:MM-HH:MM")
    add.add_argument("--days", default="", help="days the windows start on: mon,tue,…")
    add.add_argument("--tz", default="UTC", help="time zone of the windows")
    add.add_argument("--starts", help="ISO 8601 start time")
    add.add_argument("--expires", help="ISO 8601 expiry time")
    add.add_argument("--note", default="")
    revoke = _leaf(group, "revoke", _grant_revoke, "revoke a grant at once")
    revoke.add_argument("grant_id")
    revoke.add_argument("--reason", default="")
    listing = _leaf(group, "list", _grant_list, "grants given and received")
    listing.add_argument("--all", action="store_true", help="include revoked and expired")


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `org`, `camera` and `grant` to the `rtcc` command line."""
    org = subparsers.add_parser("org", help="organisations").add_subparsers(
        dest="action", required=True
    )
    add = _leaf(org, "add", _org_add, "create an organisation (platform admins)")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", choices=sorted(KINDS), required=True)
    add.add_argument("--id", default="", help="org_… id to use (default: generated)")
    add.add_argument("--email", default="")
    _leaf(org, "list", _org_list, "organisations you may see")
    camera = subparsers.add_parser("camera", help="cameras").add_subparsers(
        dest="action", required=True
    )
    _camera_commands(camera)
    grant = subparsers.add_parser("grant", help="sharing grants").add_subparsers(
        dest="action", required=True
    )
    _grant_commands(grant)
