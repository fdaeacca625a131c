"""The demo's alert feed: a simulated gunshot and a CAD incident every few minutes near
the demo cameras, and a small hot list holding plates the demo cameras show.

Entry point (for ``make run``, after the demo cameras are registered)::

    from rtcc.alerting.demo import start_demo_feed
    start_demo_feed(platform.runtime, organization_id="org_demopd", every_s=180)

It runs in the process serving the ``alerting`` target, as a supervised loop; the
reports go through the same intake as a real feed (parsed from ShotSpotter XML and
EIDO JSON, stored raw with their SHA-256, idempotent), from two in-process demo
sources ``demo-shotspotter`` and ``demo-cad``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import secrets
from typing import Any

import structlog
from pydantic import SecretStr

from rtcc.alerting import hotlist as hl
from rtcc.alerting.records import HotlistRecord
from rtcc.core.config import AlertSourceSettings
from rtcc.core.ids import new_id
from rtcc.core.runtime import Runtime

log = structlog.get_logger("rtcc.alerting.demo")
EARTH_M_PER_DEG = 111_195.0
HOTLIST_NAME = "Demo BOLO"


def ahead_of(camera: Any, metres: float) -> tuple[float, float]:
    """A point ``metres`` in front of a camera (along its heading), so it sees it. Pure."""
    lat, lon = camera.location.latitude, camera.location.longitude
    heading = math.radians(camera.field_of_view.heading_degrees)
    north, east = metres * math.cos(heading), metres * math.sin(heading)
    return (
        lat + north / EARTH_M_PER_DEG,
        lon + east / (EARTH_M_PER_DEG * max(math.cos(math.radians(lat)), 1e-6)),
    )


def gunshot_document(
    incident: str, when: dt.datetime, lat: float, lon: float, rounds: int
) -> bytes:
    kind = "Multiple Gunshots" if rounds > 1 else "Single Gunshot"
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<Incident><ID>{incident}</ID><Revision>1</Revision><Type>{kind}</Type>"
        f"<Time>{stamp}</Time><Latitude>{lat:.6f}</Latitude><Longitude>{lon:.6f}</Longitude>"
        f"<Rounds>{rounds}</Rounds><Address>Demo campus</Address></Incident>"
    ).encode()


def eido_document(incident: str, when: dt.datetime, lat: float, lon: float) -> bytes:
    return json.dumps(
        {
            "incidentComponent": [
                {
                    "incidentTrackingIdentifier": incident,
                    "incidentTypeCommonRegistryText": ["Suspicious Vehicle"],
                    "incidentStatusCommonRegistryText": ["Dispatched"],
                    "incidentCommonPriorityNumber": 2,
                    "lastUpdateTimeStamp": when.isoformat(),
                }
            ],
            "locationComponent": [
                {
                    "locationByValue": {"latitude": lat, "longitude": lon},
                    "civicAddressText": "Demo campus",
                }
            ],
        }
    ).encode()


class DemoFeed:
    def __init__(self, runtime: Runtime, organization_id: str, every_s: float) -> None:
        self.alerting = runtime.shared["alerting"]
        self.organization_id, self.every_s = organization_id, every_s
        secret = SecretStr(secrets.token_urlsafe(24))
        self.gunshot = AlertSourceSettings(
            name="demo-shotspotter", kind="gunshot", organization_id=organization_id, secret=secret
        )
        self.cad = AlertSourceSettings(
            name="demo-cad", kind="cad", organization_id=organization_id, secret=secret
        )
        self.round = 0

    async def ensure_hotlist(self, plates: list[str]) -> str:
        store = self.alerting.hotlists
        for record in await store.all(self.organization_id):
            if record.display_name == HOTLIST_NAME:
                return str(record.id)
        now = dt.datetime.now(dt.UTC)
        record = HotlistRecord(
            new_id("hot"),
            self.organization_id,
            HOTLIST_NAME,
            "",
            ";",
            0,
            0,
            3,
            1,
            0,
            None,
            "",
            "",
            0,
            now,
        )
        await store.create(record, "service:alerting-demo")
        entries = [hl.Entry(p, "", "demo-stolen", None, None, i + 1) for i, p in enumerate(plates)]
        await store.replace_entries(
            record.id, entries, "service:alerting-demo", self.organization_id, now
        )
        return record.id

    async def feed_once(self) -> list[str]:
        """One gunshot and one CAD incident near the demo cameras; the alert ids."""
        cameras = [
            c
            for c in await self.alerting.clients.registry.list_cameras()
            if c.organization_id == self.organization_id and c.HasField("location")
        ]
        if not cameras:
            return []
        n, self.round = self.round, self.round + 1
        now = dt.datetime.now(dt.UTC)
        tag = f"{now:%Y%m%d%H%M}-{n}"
        shot_cam, cad_cam = cameras[n % len(cameras)], cameras[(n + 1) % len(cameras)]
        lat, lon = ahead_of(shot_cam, 25.0)
        ids = []
        received = await self.alerting.intake.receive(
            self.gunshot,
            gunshot_document(f"DEMO-SS-{tag}", now, lat, lon, 1 + n % 4),
            "application/xml",
        )
        ids.append(received.result.alert.id)
        lat, lon = ahead_of(cad_cam, 15.0)
        received = await self.alerting.intake.receive(
            self.cad, eido_document(f"DEMO-CAD-{tag}", now, lat, lon), "application/json"
        )
        ids.append(received.result.alert.id)
        return ids

    async def run(self) -> None:
        try:
            from rtcc.sim.street import street_plates

            plates = [p for i in range(8) for p in street_plates(i)[:1]]
        except Exception:  # the footage helpers are optional; fall back to fixed plates
            plates = ["RTC4821", "DEMO123"]
        await self.ensure_hotlist(plates)
        while True:
            try:
                log.info("demo_alerts_fed", alert_ids=await self.feed_once())
            except Exception as exc:  # the demo keeps feeding whatever one round did
                log.warning("demo_feed_failed", error=str(exc))
            await asyncio.sleep(self.every_s)


def start_demo_feed(
    runtime: Runtime, *, organization_id: str = "org_demopd", every_s: float = 180.0
) -> DemoFeed:
    """Start the demo feed in a process serving ``alerting`` (supervised loop)."""
    feed = DemoFeed(runtime, organization_id, every_s)
    runtime.supervise("alerting-demo-feed", feed.run, target="alerting")
    return feed
