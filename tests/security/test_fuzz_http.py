"""Property-based fuzzing of every HTTP route the process serves: the console's JSON
API, WHEP signalling, presigned object downloads and whatever services add to
`runtime.http_routes`.

Random path segments, query strings, headers (tokens valid, expired, forged or
absent) and bodies: never a 5xx (a crash, as 500 means here), never a dropped
connection, and afterwards `/healthz` answers and gRPC health is SERVING.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse

import aiohttp
from hypothesis import given
from hypothesis import strategies as st

from .fuzzing import HTTP_EXAMPLES, fuzz_settings, on_loop, serving
from .messages import ODD
from .rpcs import invoke, rpc_by_key
from .world import EXPIRED_TOKEN, G_OUT, OWNER, PLATFORM_ADMIN, SERVICE, World

ROUTE_PARAM = re.compile(r"\{([a-z_]+)(?::[^}]*)?\}")
BUILT_IN = [("GET", "/healthz"), ("GET", "/objects/{bucket}/{key:.+}")]
ANSWER_S = 30.0  # every request's status must arrive by then (client gives up after 20)
BODY_S = 2.0  # a body still coming after this is a stream
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


def routes(world: World) -> list[tuple[str, str]]:
    served = [(m, p) for m, p, _h in world.platform.runtime.http_routes]
    return sorted(set(BUILT_IN + served))


def _segments(world: World) -> st.SearchStrategy[str]:
    real = [world.cam, world.plain_cam, world.other_cam, "snapshots", "segments", "pbs_x"]
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(ODD).filter(bool),
        st.text(min_size=1, max_size=40),
        st.integers(1000, 20000).map(lambda n: "x" * n),
    ).map(lambda s: urllib.parse.quote(s, safe=""))


def _headers(world: World) -> st.SearchStrategy[dict[str, str]]:
    tokens = [world.token(c) or "" for c in (OWNER, G_OUT, PLATFORM_ADMIN, SERVICE, EXPIRED_TOKEN)]
    auth = st.one_of(
        st.sampled_from([f"Bearer {t}" for t in tokens]),
        st.sampled_from(["", "Bearer", "Bearer ", "Basic YTpi", "Bearer a.b.c", "bearer x"]),
        st.text(max_size=60).filter(lambda s: s.isprintable() and s.isascii()),
        st.sampled_from(tokens).map(lambda t: f"Bearer {t[:-3]}abc"),  # forged signature
    )
    ascii_value = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200)
    return st.fixed_dictionaries(
        {},
        optional={
            "Authorization": auth,
            "Content-Type": st.sampled_from(
                ["application/json", "application/sdp", "text/plain", "multipart/form-data"]
            ),
            "Range": st.sampled_from(["bytes=0-1", "bytes=-5", "bytes=9999999-", "bytes=a-b"]),
            "X-Request-Id": ascii_value,
            "Origin": ascii_value,
        },
    )


def _bodies() -> st.SearchStrategy[bytes]:
    json_values = st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=8,
    )
    return st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"", b"{", b"[]", b"null", b'{"action": "seek", "time": 5}']),
        st.fixed_dictionaries(
            {"action": st.sampled_from(["seek", "rate", "pause", "resume", "x"])},
            optional={"time": json_values, "rate": json_values},
        ).map(lambda d: __import__("json").dumps(d).encode()),
        st.sampled_from(["v=0\r\n", "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nm=video 9 x\r\n"]).map(
            str.encode
        ),
    )


def _queries() -> st.SearchStrategy[dict[str, str]]:
    value = st.one_of(
        st.sampled_from(ODD), st.text(max_size=30), st.sampled_from(["2026-01-01T00:00:00Z"])
    )
    keys = st.sampled_from(["start", "end", "speed", "stream", "expires", "signature", "x"])
    return st.dictionaries(keys, value, max_size=4)


async def _send(
    session: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> int:
    url = base + path
    try:
        async with session.request(
            method, url, params=query, headers=headers, data=body, allow_redirects=False
        ) as response:
            try:
                await asyncio.wait_for(response.read(), BODY_S)
            except TimeoutError:
                pass  # a stream (server-sent events) that stays open: its status is the answer
            return response.status
    except aiohttp.ClientResponseError as exc:
        # aiohttp's own 400 for an over-long request line carries a body even to HEAD,
        # which the client refuses to parse: the status is still the server's answer.
        return exc.status


async def test_http_routes_never_fail_internally(world: World) -> None:
    served = routes(world)
    assert ("POST", "/whep/cameras/{camera_id}") in served  # the routes are really there
    run = on_loop(asyncio.get_running_loop(), ANSWER_S)
    base = world.http_base
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:

        @fuzz_settings(HTTP_EXAMPLES * len(served))
        @given(
            route=st.sampled_from(served),
            parts=st.lists(_segments(world), min_size=4, max_size=4),
            query=_queries(),
            headers=_headers(world),
            body=_bodies(),
            other_verb=st.one_of(st.none(), st.sampled_from(METHODS)),
        )
        def property(
            route: tuple[str, str],
            parts: list[str],
            query: dict[str, str],
            headers: dict[str, str],
            body: bytes,
            other_verb: str | None,
        ) -> None:
            names = iter(parts)
            path = ROUTE_PARAM.sub(lambda _m: next(names), route[1])
            verb = other_verb or route[0]
            try:
                code = run(_send(session, base, verb, path, query, headers, body))
            except TimeoutError:
                raise AssertionError(
                    f"{verb} {path[:200]} got no answer within {ANSWER_S} s (the event loop "
                    f"blocked?) ({headers}, {body[:200]!r})"
                ) from None
            assert code < 500, f"{verb} {path} answered {code} ({headers}, {body[:200]!r})"

        await asyncio.to_thread(property)
    assert await serving(world.address)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 200


async def test_presigned_links_refuse_every_tampering_and_serve_the_untouched(
    world: World,
) -> None:
    """A real presigned snapshot link works; any change to it is refused, never a 5xx."""
    rpc = rpc_by_key("AnalyticsService.GetSnapshotUrl")
    result = await invoke(world.channel(OWNER), rpc, rpc.request(event_id=world.events["cam"]))
    assert result.code.name == "OK", result.details
    url: str = result.responses[0].url
    run = on_loop(asyncio.get_running_loop())
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 200
            assert (await response.read()).startswith(b"\xff\xd8")
        parsed = urllib.parse.urlsplit(url)

        @fuzz_settings(HTTP_EXAMPLES)
        @given(
            position=st.integers(0, len(url) - 1),
            replacement=st.sampled_from(["0", "f", "%2F", "..", "", "A" * 50, "%00"]),
        )
        def property(position: int, replacement: str) -> None:
            tampered = url[:position] + replacement + url[position + 1 :]
            if tampered == url or not tampered.startswith(f"{parsed.scheme}://{parsed.netloc}/"):
                return
            code = run(_status(session, tampered))
            assert code < 500, f"{tampered} answered {code}"
            changed_signed_part = position >= len(f"{parsed.scheme}://{parsed.netloc}")
            if changed_signed_part and code == 200:
                raise AssertionError(f"a tampered link was served: {tampered}")

        await asyncio.to_thread(property)


async def _status(session: aiohttp.ClientSession, url: str) -> int:
    try:
        async with session.get(url, allow_redirects=False) as response:
            await response.read()
            return response.status
    except aiohttp.InvalidURL:
        return 400
