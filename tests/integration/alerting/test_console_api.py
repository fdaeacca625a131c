"""The console's JSON API: list, context, lifecycle actions, and SSE resumed from a
sequence without losing changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from rtcc.backends.database import Database

from .conftest import gunshot_xml, now


async def _sse_events(response: aiohttp.ClientResponse, count: int) -> list[tuple[int, Any]]:
    events: list[tuple[int, Any]] = []
    seq, data = 0, ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            seq = int(line[4:])
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and data:
            events.append((seq, json.loads(data)))
            data = ""
            if len(events) == count:
                return events
    return events


async def test_console_lists_acts_and_follows_alerts(database: Database, city_block: Any) -> None:
    async with city_block(database) as block:
        headers = {"Authorization": f"Bearer {block.token()}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.get(f"{block.http}/api/alerts") as resp:
                start = (await resp.json())["sequence"]
            status, body = await block.post("shotspotter", gunshot_xml("SS-C1", 1, now()))
            assert status == 201
            alert_id = body["alert_id"]
            async with http.get(f"{block.http}/api/alerts?state=open") as resp:
                listed = await resp.json()
            assert [a["id"] for a in listed["alerts"]] == [alert_id]
            async with http.get(f"{block.http}/api/alerts/{alert_id}/context?purpose=test") as resp:
                context = await resp.json()
            assert context["cameras"][0]["display_name"] == "west_facing_east"
            assert context["cameras"][0]["live_url"].startswith("/whep/cameras/")
            assert len(context["holds"]) == 3
            url = f"{block.http}/api/alerts/{alert_id}"
            async with http.post(f"{url}/assign", json={"unit": "1-Adam-12"}) as resp:
                assigned = await resp.json()
            assert assigned["state"] == "assigned" and assigned["unit"] == "1-Adam-12"
            async with http.post(f"{url}/resolve", json={"outcome": "sideways"}) as resp:
                assert resp.status == 400 and "outcome" in (await resp.json())["error"]
            async with http.post(f"{url}/dismiss", json={"reason": "fireworks"}) as resp:
                assert (await resp.json())["state"] == "dismissed"
            async with http.post(f"{url}/acknowledge", json={}) as resp:
                assert resp.status == 409

            # Every change since the list's sequence comes back over SSE, in order.
            async with http.get(f"{block.http}/api/alerts/stream?after={start}") as resp:
                got = await asyncio.wait_for(_sse_events(resp, 3), 20)
            assert [e[1]["change"] for e in got] == [2, 3, 3]
            assert [e[1]["alert"]["id"] for e in got] == [alert_id] * 3
            assert got[0][0] < got[1][0] < got[2][0]
            async with http.get(f"{block.http}/api/alerts/stream?after={got[1][0]}") as resp:
                (last,) = await asyncio.wait_for(_sse_events(resp, 1), 20)
            assert last[0] == got[2][0] and last[1]["alert"]["state"] == "dismissed"
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{block.http}/api/alerts") as resp:
                assert resp.status == 401
