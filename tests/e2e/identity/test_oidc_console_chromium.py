"""OIDC sign-in in real headless Chromium against a real provider (npm oidc-provider):
the console's "Sign in with your city account" button, the provider's login form,
authorization code + PKCE back in the console, and the console showing the cameras
of the signed-in user's organisation (mapped from the provider's claims) only."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.core.config import Settings
from rtcc.core.server import start_platform
from rtcc.registry.v1 import registry_pb2 as pb
from rtcc.registry.v1 import registry_pb2_grpc as pbg

AUDIENCE = "urn:openrtcc:api"  # infra/oidc/users.json
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def register_console(issuer: str, redirect_uri: str) -> str:
    """Register the console as a public client of the provider (RFC 7591)."""
    body = {
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    async with aiohttp.ClientSession() as http, http.post(f"{issuer}/reg", json=body) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["client_id"])


@pytest_asyncio.fixture(scope="module")
async def browser(tmp_path_factory: Any) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")),
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS,
        )  # fmt: skip
        try:
            yield context
        finally:
            await context.close()


async def add_camera(stub: Any, org_id: str, name: str) -> str:
    await stub.CreateOrganization(
        pb.CreateOrganizationRequest(
            organization=pb.Organization(display_name=name, kind=pb.ORGANIZATION_KIND_AGENCY),
            organization_id=org_id,
        )
    )
    camera = pb.Camera(
        organization_id=org_id,
        display_name=name,
        location={"latitude": 42.33, "longitude": -83.04},
        field_of_view={"heading_degrees": 90, "angle_degrees": 60, "range_meters": 50},
    )
    return str((await stub.CreateCamera(pb.CreateCameraRequest(camera=camera))).camera.id)


async def test_oidc_sign_in_in_chromium_shows_the_users_cameras(
    oidc_provider: str, browser: Any, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id = await register_console(oidc_provider, base + "/")
    oidc = {
        "issuer": oidc_provider,
        "audience": AUDIENCE,
        "client_id": client_id,
        "scopes": ["openid", "profile", "rtcc"],
        "subject_claim": "preferred_username",
        "org_claim": "agency",
        "org_map": {"metro-pd": "org_metro"},
        "roles_claim": "groups",
        "role_map": {"rtcc-dispatch": ["operator"]},
    }
    unused = {name: "127.0.0.1:9" for name in ("ingest", "analytics")}  # never called here
    settings = Settings(
        grpc_listen="127.0.0.1:0", http_listen=f"127.0.0.1:{port}", metrics_listen="127.0.0.1:0",
        data_dir=tmp_path, auth={"jwt_secret": secrets.token_urlsafe(40), "oidc": oidc},
        drain_grace_s=0.5, peers=unused,
    )  # fmt: skip
    platform = await start_platform(settings, ["registry", "playback"], with_metrics=False)
    page = await browser.new_page()
    try:
        admin = platform.token(subject="root", org_id=PLATFORM_ORG, roles=["platform-admin"])
        async with open_channel(platform.grpc_address, lambda: admin) as channel:
            stub = pbg.RegistryServiceStub(channel)
            metro = await add_camera(stub, "org_metro", "Metro Main St")
            await add_camera(stub, "org_harbour", "Harbour gate")

        await page.goto(base + "/")
        await page.click("#oidc-signin")
        await page.wait_for_url(f"{oidc_provider}/interaction/**")  # the provider's page
        await page.fill("#login", "ana")
        await page.fill("#password", "ana-metro-pw")
        await page.click("#login-submit")
        await page.wait_for_url(f"{base}/**")
        # The console lists the cameras it was given for this user...
        await page.wait_for_function(
            "name => document.body.innerText.includes(name)", arg="Metro Main St", timeout=20_000
        )
        shown = await page.evaluate("window.rtcc.cameras.map(c => c.id)")
        assert shown == [metro]  # ...only Metro's: Harbour's camera is not among them
        assert "Harbour gate" not in await page.inner_text("body")
        assert "code=" not in page.url  # the code is removed from the address bar
        token = await page.evaluate("sessionStorage.getItem('rtcc-token')")
        assert token and token.count(".") == 2  # the provider's JWT, used by the console
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "identity-oidc-signed-in.png"))
    finally:
        await page.close()
        await platform.stop(grace=0.5)


async def test_wrong_password_keeps_the_user_at_the_provider(
    oidc_provider: str, browser: Any, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id = await register_console(oidc_provider, base + "/")
    oidc = {"issuer": oidc_provider, "audience": AUDIENCE, "client_id": client_id}
    settings = Settings(
        grpc_listen="127.0.0.1:0", http_listen=f"127.0.0.1:{port}", metrics_listen="127.0.0.1:0",
        data_dir=tmp_path, auth={"jwt_secret": secrets.token_urlsafe(40), "oidc": oidc},
        drain_grace_s=0.5, peers={n: "127.0.0.1:9" for n in ("registry", "ingest", "analytics")},
    )  # fmt: skip
    platform = await start_platform(settings, ["playback"], with_metrics=False)
    await browser.clear_cookies()  # no provider session left by another test
    page = await browser.new_page()
    try:
        await page.goto(base + "/")
        assert await page.is_hidden("#signin-form")  # OIDC replaces the token box
        await page.click("#oidc-signin")
        await page.fill("#login", "ana")
        await page.fill("#password", "guess")
        await page.click("#login-submit")
        await page.wait_for_selector("#login-error")
        assert page.url.startswith(oidc_provider)
    finally:
        await page.close()
        await platform.stop(grace=0.5)
