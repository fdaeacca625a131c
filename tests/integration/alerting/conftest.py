"""A city block for alerting's scenarios: an organisation, cameras around a spot (some
facing it), plate reads, signed source requests, on embedded and real backends."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from tests.waiting import wait_for

from rtcc.alerting import signing
from rtcc.alerting.v1 import alerting_pb2_grpc as apbg
from rtcc.analytics.events import DetectedEvent
from rtcc.analytics.records import EventRecord, PlateReadRecord
from rtcc.analytics.sink import StoringSink
from rtcc.analytics.store import AnalyticsStore
from rtcc.backends.database import Database
from rtcc.core.auth import PLATFORM_ORG
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc as rpbg

SPOT = (41.87810, -87.62980)
# Metres per degree near the spot.
M_LAT, M_LON = 111_195.0, 111_195.0 * 0.7450
GUNSHOT_SECRET = "gunshot-feed-secret-0123456789"
CAD_SECRET = "cad-feed-secret-0123456789abcd"


def offset(north_m: float, east_m: float) -> tuple[float, float]:
    return SPOT[0] + north_m / M_LAT, SPOT[1] + east_m / M_LON


def source_settings(org_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "sources": [
            {
                "name": "shotspotter",
                "kind": "gunshot",
                "organization_id": org_id,
                "secret": GUNSHOT_SECRET,
                "heartbeat_timeout_s": 120,
            },
            {"name": "cad", "kind": "cad", "organization_id": org_id, "secret": CAD_SECRET},
        ],
        "served_area": [41.0, -88.5, 42.5, -87.0],
        "tick_s": 3600,
        "escalate_after_s": 0,
        "max_payload_bytes": 64 * 1024,
        **extra,
    }


@dataclass
class Block:
    """A started platform with one organisation and its cameras around SPOT."""

    p: Any
    db: Database
    org_id: str
    cameras: dict[str, str] = field(default_factory=dict)  # role -> camera id
    # Stubs keep their channels open (a dropped channel closes under a call).
    stubs: dict[tuple[tuple[str, ...], str], Any] = field(default_factory=dict)

    @property
    def alerting(self) -> Any:
        return self.p.platform.runtime.shared["alerting"]

    def stub(self, roles: tuple[str, ...] = ("operator",), subject: str = "op@city") -> Any:
        key = (roles, subject)
        if key not in self.stubs:
            token = self.p.token(self.org_id, list(roles), subject=subject)
            self.stubs[key] = apbg.AlertingServiceStub(self.p.channel(token))
        return self.stubs[key]

    def token(self, roles: tuple[str, ...] = ("operator",)) -> str:
        return str(self.p.token(self.org_id, list(roles), subject="op@city"))

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.p.platform.http.port}"

    async def post(
        self,
        source: str,
        body: bytes,
        *,
        secret: str | None = None,
        stamp: int | None = None,
        path: str = "events",
        content_type: str = "application/xml",
    ) -> tuple[int, dict[str, Any]]:
        stamp = int(time.time()) if stamp is None else stamp
        key = secret or (GUNSHOT_SECRET if source == "shotspotter" else CAD_SECRET)
        headers = {
            signing.TIMESTAMP_HEADER: str(stamp),
            signing.SIGNATURE_HEADER: signing.sign(key, stamp, body),
            "Content-Type": content_type,
        }
        async with aiohttp.ClientSession() as session:
            url = f"{self.http}/alerting/sources/{source}/{path}"
            async with session.post(url, data=body, headers=headers) as resp:
                return resp.status, await resp.json()

    async def plate_read(
        self, camera: str, plate: str, when: datetime, *, publish: bool = False
    ) -> str:
        """A plate read by a camera (its event too); ``publish`` sends it on the bus the
        way analytics' own sink does, as a simulated camera passing would."""
        cam_id = self.cameras[camera]
        read_id, event_id = f"plr_{secrets.token_hex(6)}", f"evt_{secrets.token_hex(6)}"
        read = PlateReadRecord(
            read_id,
            cam_id,
            self.org_id,
            when,
            plate,
            [(c, 0.9) for c in plate],
            0.9,
            (0.1, 0.1, 0.1, 0.05),
            event_id=event_id,
        )
        event = EventRecord(
            event_id,
            cam_id,
            self.org_id,
            6,
            2,
            "t1",
            0.9,
            when,
            when,
            (0.1, 0.1, 0.3, 0.3),
            plate_read_id=read_id,
        )
        if publish:
            sink = StoringSink(
                AnalyticsStore(self.db),
                self.p.platform.runtime.objects,
                self.p.platform.runtime.bus,
            )
            await sink.publish(DetectedEvent(event, read))
        else:
            store = AnalyticsStore(self.db)
            await store.add_plate_reads([read])
            await store.add_events([event])
        return read_id


CAMERAS = {
    # role: (north_m, east_m, heading, angle, range)
    "west_facing_east": (0, -60, 90, 60, 150),
    "north_facing_away": (30, 0, 0, 60, 150),
    "south_facing_north": (-140, 0, 0, 40, 200),
    "far_away": (2000, 0, 180, 60, 150),
}


@pytest.fixture
def city_block(platform_factory: Callable[..., Any], request: pytest.FixtureRequest) -> Any:
    """``async with city_block(database, **alerting_settings) as block``."""

    @asynccontextmanager
    async def make(database: Database, **alerting: Any) -> AsyncIterator[Block]:
        org_id = f"org_{secrets.token_hex(6)}"
        overrides: dict[str, Any] = {"alerting": source_settings(org_id, **alerting)}
        if database.dialect == "postgresql":
            overrides["bus_url"] = request.getfixturevalue("nats_url")
        targets = ["registry", "ingest", "analytics", "alerting"]
        async with platform_factory(targets=targets, database=database, **overrides) as p:
            admin = rpbg.RegistryServiceStub(
                p.channel(p.token(PLATFORM_ORG, ["platform-admin"], subject="root@city"))
            )
            await admin.CreateOrganization(
                rpb.CreateOrganizationRequest(
                    organization=rpb.Organization(
                        display_name="City PD", kind=rpb.ORGANIZATION_KIND_AGENCY
                    ),
                    organization_id=org_id,
                )
            )
            owner = rpbg.RegistryServiceStub(p.channel(p.token(org_id, ["partner-admin"])))
            block = Block(p, database, org_id)
            for role, (north, east, heading, angle, rng) in CAMERAS.items():
                lat, lon = offset(north, east)
                reply = await owner.CreateCamera(
                    rpb.CreateCameraRequest(
                        camera=rpb.Camera(
                            organization_id=org_id,
                            display_name=role,
                            location={"latitude": lat, "longitude": lon},
                            field_of_view=rpb.FieldOfView(
                                heading_degrees=heading, angle_degrees=angle, range_meters=rng
                            ),
                        )
                    )
                )
                block.cameras[role] = reply.camera.id
            yield block

    return make


def gunshot_xml(
    incident: str,
    revision: int,
    when: datetime,
    north: float = 0,
    east: float = 0,
    kind: str = "Multiple Gunshots",
    rounds: int = 3,
) -> bytes:
    lat, lon = offset(north, east)
    return (
        f"<Incident><ID>{incident}</ID><Revision>{revision}</Revision><Type>{kind}</Type>"
        f"<Time>{when.strftime('%Y-%m-%dT%H:%M:%SZ')}</Time><Latitude>{lat:.6f}</Latitude>"
        f"<Longitude>{lon:.6f}</Longitude><Rounds>{rounds}</Rounds>"
        "<Address>5th &amp; Main</Address></Incident>"
    ).encode()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def poll(check: Callable[[], Any], within_s: float = 20.0) -> Any:
    """Await ``check()`` until it returns something truthy; return it."""
    return await wait_for(check, within_s=within_s, what="the polled condition")


BILLION = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b"<Incident><ID>&b;</ID></Incident>"
)

__all__ = ["BILLION", "Block", "gunshot_xml", "now", "offset", "poll", "timedelta"]
