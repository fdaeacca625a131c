"""The `rtcc org|camera|grant` commands against a running registry."""

from __future__ import annotations

import asyncio
import io
import shlex
from pathlib import Path

import pytest

from rtcc import cli
from rtcc.core.auth import PLATFORM_ORG
from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry


async def rtcc(
    registry: Registry, token: str, command: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run `rtcc COMMAND --address … --token …` (in a thread: it runs its own event loop)."""
    argv = [*shlex.split(command), "--address", registry.address, "--token", token]
    code = await asyncio.to_thread(cli.main, argv)
    out = capsys.readouterr()
    return code, out.out.strip(), out.err.strip()


async def test_admin_session_from_org_to_revoked_grant(
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = registry.token(PLATFORM_ORG, "platform-admin", subject="root")
    code, shop, _ = await rtcc(
        registry, root, "org add --name Shop --kind partner-business", capsys
    )
    assert code == 0 and shop.startswith("org_")
    _, police, _ = await rtcc(
        registry, root, "org add --name PD --kind agency --id org_clipd1", capsys
    )
    assert police == "org_clipd1"

    admin = registry.token(shop, "partner-admin", subject="owner@shop")
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-from-stdin\n"))
    command = (
        "camera add --name 'Pump 3' --lat 17.5 --lon 27.5 --heading 90 --angle 60 --range 40"
        " --main-url rtsp://10.5.0.1/s --username viewer --password-stdin --tag gas-station"
    )
    code, camera_id, _ = await rtcc(registry, admin, command, capsys)
    assert code == 0 and camera_id.startswith("cam_")
    credentials = await registry.service("ingest").GetCameraStreamCredentials(
        pb.GetCameraStreamCredentialsRequest(camera_id=camera_id)
    )
    assert credentials.credentials.password == "s3cret-from-stdin"

    inventory = tmp_path / "more.csv"
    inventory.write_text("display_name,latitude,longitude\nLot,17.5005,27.5\nBad,99,27.5\n")
    code, report, _ = await rtcc(registry, admin, f"camera import {inventory}", capsys)
    assert code == 1  # a row was rejected
    assert "2    " in report and "latitude" in report and "created 1" in report

    code, listing, _ = await rtcc(registry, admin, "camera list", capsys)
    assert code == 0 and camera_id in listing and "Lot" in listing

    command = (
        f"grant add --to {police} --all --live --window 22:00-06:00 --days fri,sat"
        " --tz America/Detroit"
    )
    code, grant_id, _ = await rtcc(registry, admin, command, capsys)
    assert code == 0 and grant_id.startswith("grt_")
    operator = registry.token(police, "operator")
    nearby = "camera nearby --lat 17.5 --lon 27.5003 --radius 100"
    code, near, _ = await rtcc(registry, operator, nearby, capsys)
    assert code == 0
    first = near.splitlines()[1].split()
    assert first[1] == "yes" and first[2] == camera_id  # 32 m east, in view

    code, out, _ = await rtcc(registry, admin, f"grant revoke {grant_id} --reason done", capsys)
    assert code == 0 and out == f"{grant_id} revoked"
    code, grants, _ = await rtcc(registry, admin, "grant list --all", capsys)
    assert "revoked" in grants


async def test_errors_are_one_line_with_the_status(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    org = await registry.org()
    admin = registry.token(org, "partner-admin")
    code, _, err = await rtcc(registry, admin, "camera add --name x --lat 95 --lon 1", capsys)
    assert code == 1
    assert err.startswith("error: INVALID_ARGUMENT: camera.location.latitude")
    code, _, err = await rtcc(registry, "", "camera list", capsys)
    assert code == 2 and "RTCC_TOKEN" in err
