"""Access tokens of a real OpenID Connect provider (npm oidc-provider, started on
127.0.0.1) accepted by a real gRPC server, with organisation and roles mapped from the
provider's own claim names by configuration; audit entries name the mapped caller and
the request id."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.core.config import Settings
from rtcc.core.server import start_platform
from rtcc.registry.v1 import registry_pb2 as pb
from rtcc.registry.v1 import registry_pb2_grpc as pbg

from .oidc_flow import register_client, sign_in

AUDIENCE = "urn:openrtcc:api"  # infra/oidc/users.json
REDIRECT = "http://127.0.0.1:9/callback"  # never reached: the flow stops at the redirect


def oidc_settings(issuer: str, data_dir: Path, **overrides: Any) -> Settings:
    """The provider's claims (agency, groups) mapped onto our organisations and roles."""
    oidc = {
        "issuer": issuer,
        "audience": AUDIENCE,
        "client_id": "rtcc-console",
        "scopes": ["openid", "profile", "rtcc"],
        "subject_claim": "preferred_username",
        "org_claim": "agency",
        "org_map": {"metro-pd": "org_metro", "harbour-pd": "org_harbour"},
        "roles_claim": "groups",
        "role_map": {
            "rtcc-dispatch": ["operator", "partner-admin"],
            "rtcc-detectives": ["investigator"],
            "rtcc-analysts": ["analyst"],
        },
    }
    return Settings(
        grpc_listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        metrics_listen="127.0.0.1:0",
        data_dir=data_dir,
        auth={"jwt_secret": secrets.token_urlsafe(40), "oidc": oidc},
        drain_grace_s=0.5,
        **overrides,
    )


def channel(address: str, token: str) -> grpc.aio.Channel:
    return open_channel(address, lambda: token)


async def test_provider_token_is_accepted_and_its_claims_mapped(
    oidc_provider: str, tmp_path: Path
) -> None:
    platform = await start_platform(oidc_settings(oidc_provider, tmp_path), ["registry"])
    try:
        admin = platform.token(subject="root", org_id=PLATFORM_ORG, roles=["platform-admin"])
        async with channel(platform.grpc_address, admin) as ch:
            stub = pbg.RegistryServiceStub(ch)
            for org_id, name in (("org_metro", "Metro PD"), ("org_harbour", "Harbour PD")):
                await stub.CreateOrganization(
                    pb.CreateOrganizationRequest(
                        organization=pb.Organization(
                            display_name=name, kind=pb.ORGANIZATION_KIND_AGENCY
                        ),
                        organization_id=org_id,
                    )
                )
        client_id = await register_client(oidc_provider, REDIRECT)
        ana = await sign_in(oidc_provider, client_id, REDIRECT, "ana", "ana-metro-pw")
        ben = await sign_in(oidc_provider, client_id, REDIRECT, "ben", "ben-harbour-pw")

        async with channel(platform.grpc_address, ana) as ch:
            stub = pbg.RegistryServiceStub(ch)
            camera = pb.Camera(
                organization_id="org_metro",
                display_name="Main St",
                location={"latitude": 42.33, "longitude": -83.04},
                field_of_view={"heading_degrees": 90, "angle_degrees": 60, "range_meters": 50},
            )
            created = (
                await stub.CreateCamera(
                    pb.CreateCameraRequest(camera=camera),
                    metadata=(("x-request-id", "req-ana-create-1"),),
                )
            ).camera
            listed = await stub.ListCameras(pb.ListCamerasRequest())
            assert [c.id for c in listed.cameras] == [created.id]
            audit = await stub.ListAuditEntries(
                pb.ListAuditEntriesRequest(resource_type="camera", resource_id=created.id)
            )
        (entry,) = audit.entries
        assert (entry.actor.subject, entry.actor.organization_id) == ("ana", "org_metro")
        assert (entry.request_id, entry.outcome) == ("req-ana-create-1", "ok")

        async with channel(platform.grpc_address, ben) as ch:
            stub = pbg.RegistryServiceStub(ch)
            # Ben's agency and group map to org_harbour / analyst: not Metro's camera...
            assert list((await stub.ListCameras(pb.ListCamerasRequest())).cameras) == []
            # ...and an analyst may not create cameras.
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await stub.CreateCamera(pb.CreateCameraRequest(camera=camera))
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await platform.stop(grace=0.5)


async def test_tampered_provider_token_is_refused(oidc_provider: str, tmp_path: Path) -> None:
    platform = await start_platform(oidc_settings(oidc_provider, tmp_path), ["registry"])
    try:
        client_id = await register_client(oidc_provider, REDIRECT)
        token = await sign_in(oidc_provider, client_id, REDIRECT, "ana", "ana-metro-pw")
        head, body, signature = token.split(".")
        tampered = f"{head}.{body}.{signature[:-4]}AAAA"
        async with channel(platform.grpc_address, tampered) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await pbg.RegistryServiceStub(ch).ListCameras(pb.ListCamerasRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await platform.stop(grace=0.5)


async def test_wrong_password_gets_no_token(oidc_provider: str) -> None:
    client_id = await register_client(oidc_provider, REDIRECT)
    with pytest.raises(PermissionError):
        await sign_in(oidc_provider, client_id, REDIRECT, "ana", "not-her-password")


async def test_console_config_is_served_without_a_token(oidc_provider: str, tmp_path: Path) -> None:
    # Playback alone: its peers are never called here (channels connect lazily).
    unused = {name: "127.0.0.1:9" for name in ("registry", "ingest", "analytics")}
    settings = oidc_settings(oidc_provider, tmp_path, peers=unused)
    platform = await start_platform(settings, ["playback"], with_metrics=False)
    try:
        assert platform.http is not None
        url = f"http://127.0.0.1:{platform.http.port}/api/auth/config"
        headers = {"X-Request-Id": "req-http-1"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
            assert response.status == 200
            assert response.headers["X-Request-Id"] == "req-http-1"  # echoed for support
            config = await response.json()
        assert config == {
            "mode": "oidc",
            "issuer": oidc_provider,
            "client_id": "rtcc-console",
            "scopes": ["openid", "profile", "rtcc"],
            "resource": "",
        }
    finally:
        await platform.stop(grace=0.5)
