"""The browser's way in: WHEP and the console's JSON API, every caller.

The same policy as the gRPC matrix, in HTTP statuses: 200/201 allowed, 403 refused,
404 (or 403) for a camera the caller may not know of, 401 without a valid token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from .expectations import SEES_METADATA
from .outcomes import MAY_SEE_CAM, MAY_SEE_OTHER
from .requests import build
from .rpcs import invoke, rpc_by_key
from .world import CALLERS, OWNER, UNAUTHENTICATED_CALLERS, World

Expected = Callable[[str], frozenset[int]]


def camera(what: str, ok: int = 200) -> Expected:
    def expected(caller: str) -> frozenset[int]:
        if caller in UNAUTHENTICATED_CALLERS:
            return frozenset({401})
        if caller in MAY_SEE_CAM[what]:
            return frozenset({ok})
        return frozenset({403}) if caller in SEES_METADATA else frozenset({403, 404})

    return expected


async def _request(
    world: World, caller: str, method: str, path: str, body: str = ""
) -> tuple[int, Any, dict[str, str]]:
    token = world.token(caller)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body:
        headers["Content-Type"] = "application/json" if body.startswith("{") else "application/sdp"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.request(
            method, world.http_base + path, data=body or None, headers=headers
        ) as response:
            text = await response.text()
            if response.status == 201 and "Location" in response.headers:
                async with session.delete(
                    world.http_base + response.headers["Location"], headers=headers
                ):
                    pass
            payload: Any = text
            if response.content_type == "application/json":
                payload = await response.json()
            return response.status, payload, dict(response.headers)


async def _row(
    world: World, method: str, path: str, expected: Expected, body: str = ""
) -> list[str]:
    answers = await asyncio.gather(*(_request(world, c, method, path, body) for c in CALLERS))
    wrong = []
    for caller, (status, payload, _headers) in zip(CALLERS, answers, strict=True):
        if status not in expected(caller):
            detail = str(payload)[:120]
            wrong.append(f"{caller}: want {sorted(expected(caller))}, got {status} ({detail})")
    return wrong


async def test_whep_live_offer_follows_the_live_policy(world: World) -> None:
    wrong = await _row(
        world, "POST", f"/whep/cameras/{world.cam}", camera("live", 201), body=world.offer
    )
    assert not wrong, "\n".join(wrong)


async def test_console_recordings_follow_the_recorded_policy(world: World) -> None:
    wrong = await _row(world, "GET", f"/api/cameras/{world.cam}/recordings", camera("recorded"))
    assert not wrong, "\n".join(wrong)


async def test_console_camera_list_shows_exactly_the_visible_cameras(world: World) -> None:
    wrong = []
    for caller in CALLERS:
        status, payload, _ = await _request(world, caller, "GET", "/api/cameras")
        if caller in UNAUTHENTICATED_CALLERS:
            if status != 401:
                wrong.append(f"{caller}: want 401, got {status}")
            continue
        listed = {c["id"] for c in payload.get("cameras", [])} if status == 200 else set()
        if status != 200:
            wrong.append(f"{caller}: want 200, got {status}")
        if (world.cam in listed) != (caller in SEES_METADATA):
            wrong.append(f"{caller}: lists the owner's camera: {world.cam in listed}")
        if world.other_cam in listed and caller not in MAY_SEE_OTHER["metadata"]:
            wrong.append(f"{caller}: lists another organisation's camera")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("method,suffix", [("GET", ""), ("POST", "/control")])
async def test_console_sessions_are_their_owners_alone(
    world: World, method: str, suffix: str
) -> None:
    create = rpc_by_key("PlaybackService.CreateSession")
    key = "PlaybackService.CreateSession#recorded"
    request = build(create, key, world, OWNER, {"offer": world.offer})
    made = await invoke(world.channel(OWNER), create, request)
    assert made.code.name == "OK", made.details
    session_id = made.responses[0].session.id
    body = '{"action": "pause"}' if method == "POST" else ""
    others = [c for c in CALLERS if c != OWNER]
    answers = [
        await _request(world, c, method, f"/api/sessions/{session_id}{suffix}", body)
        for c in [*others, OWNER]
    ]
    wrong = []
    for caller, (status, payload, _) in zip([*others, OWNER], answers, strict=True):
        want = {401} if caller in UNAUTHENTICATED_CALLERS else {200 if caller == OWNER else 404}
        if status not in want:
            wrong.append(f"{caller}: want {sorted(want)}, got {status} ({str(payload)[:100]})")
    close = rpc_by_key("PlaybackService.CloseSession")
    await invoke(world.channel(OWNER), close, close.request(session_id=session_id))
    assert not wrong, "\n".join(wrong)
