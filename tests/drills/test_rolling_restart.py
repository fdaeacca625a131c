"""Drill: a rolling restart of every target of a multi-process deployment, as an
upgrade rolls a chart: separate `rtcc serve --target=X` processes (registry, two ingest
replicas, analytics, and alerting + evidence + playback) sharing PostgreSQL, MinIO and
NATS, recording two cameras with analytics on. Each process in turn gets SIGTERM (graceful
drain: the segment in progress is closed and stored, leases are released), is started
again on its data, and must be SERVING before the next one goes.

Counted per camera over the whole roll: segments expected (the window over the segment
length), indexed, stored and published on the bus (must be equal: zero loss), and the
holes in the index, which may only be the handovers of an ingest restart (the camera
moving to the other replica and back: a lease tick, a keyframe, the RTSP connection);
analytics events published and stored (must be the same set, each once); alerts raised
by a rule on every event (alerting restarts with the rest: every stored event must be a
trigger of exactly one alert, none counted twice).
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import os
import time

import pytest
from tests.waiting import wait_for

from rtcc.analytics.events import BUS_SUBJECT
from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import ANALYTICS_POOL, INGEST_POOL

from .conftest import KEYFRAME_S, Deployment
from .fleet import (
    Followers,
    alert_on_every_event,
    alert_triggers,
    audit,
    enable_analytics,
    event_key,
    fresh_database,
    segment_key,
    segments_of,
    stored_events,
    street_simulator,
)

# Process name -> its targets. Alerting, evidence and playback share one process (the
# chart runs each alone): on a 2-core node each Python process start costs seconds.
TARGETS = {
    "registry": "registry",
    "ingest-a": "ingest",
    "ingest-b": "ingest",
    "analytics": "analytics",
    "rest": "alerting,evidence,playback",
}
ORDER = list(TARGETS)
PEERS = {"registry": "registry", "ingest": "ingest-a", "analytics": "analytics"} | {
    t: "rest" for t in ("alerting", "evidence", "playback")
}
# A camera handed over between ingest replicas: the giver's drain grace (1 s), the
# taker's next lease tick (3 s; a tick waits on the registry, which may be slow just
# after its own restart), a keyframe interval, the RTSP connection; on a starved node
# (load 30) one handover took 10-11 s, so 2 ticks of margin. The roll restarts ingest-b
# as soon as ingest-a is SERVING, so a camera can be handed over twice in a row (to
# ingest-b, then back): one hole of up to two handovers.
HANDOVER_S = 1.0 + 3.0 + KEYFRAME_S + 1.5 + 2 * 3.0
HOLE_S = 2 * HANDOVER_S
OVERLAP_S = 0.5
pytestmark = [pytest.mark.postgres, pytest.mark.minio, pytest.mark.nats]


async def test_a_rolling_restart_of_every_target_loses_nothing_beyond_handovers(
    deployment: Deployment, postgres_url: str, minio_url: str, nats_url: str
) -> None:
    db_url = await fresh_database(postgres_url)
    deployment.env.update(
        RTCC_DATABASE_URL=db_url, RTCC_OBJECT_STORE_URL=minio_url, RTCC_BUS_URL=nats_url
    )
    servers = {name: deployment.server(name, target) for name, target in TARGETS.items()}
    for server in servers.values():  # every process reaches one replica of each target
        for target, name in PEERS.items():
            server.env[f"RTCC_PEERS__{target.upper()}"] = servers[name].address
    db, bus = await open_database(db_url), await open_bus(nats_url)
    objects = open_object_store(minio_url)
    followers = Followers()
    segments_published = followers.start(bus, "rtcc.segment.created", segment_key)
    events_published = followers.start(bus, BUS_SUBJECT, event_key)
    leases = LeaseStore(db)
    restarts: list[tuple[str, float]] = []
    try:
        async with street_simulator(2) as sim:
            await servers["registry"].start()
            await servers["registry"].wait_serving(within_s=90)
            org_id, ids = await deployment.register(servers["registry"].address, sim)
            for name in ORDER[1:]:
                await servers[name].start()
            for name in ORDER[1:]:
                await servers[name].wait_serving(within_s=180)
            rule_id = await alert_on_every_event(
                servers["rest"].address, deployment.token(org_id, ["partner-admin"])
            )
            await enable_analytics(servers["analytics"].address, deployment.admin_token(), ids)

            async def steady() -> bool:
                ingest = {x.camera_id: x.replica_id for x in await leases.unexpired(INGEST_POOL)}
                analysed = {x.camera_id for x in await leases.unexpired(ANALYTICS_POOL)}
                making = {e.camera_id for e in await stored_events(db, ids)}
                return (
                    len(set(ingest.values())) == 2
                    and set(ids) <= set(ingest) & analysed
                    and making == set(ids)
                )

            await wait_for(steady, within_s=90, what="both replicas recording, events made")
            start = dt.datetime.now(dt.UTC)
            for name in ORDER:
                began = time.monotonic()
                await servers[name].stop()  # SIGTERM: graceful drain
                await servers[name].start()
                await servers[name].wait_serving(within_s=180)
                restarts.append((name, round(time.monotonic() - began, 1)))
            await wait_for(steady, within_s=60, what="steady again after the roll")
            end = dt.datetime.now(dt.UTC)

            state: list[str] = []

            async def complete() -> bool:
                rows = [await audit(db, objects, segments_published, c, start, end) for c in ids]
                stored = {e.id for e in await stored_events(db, ids) if e.event_time < end}
                unpublished = stored - set(events_published)
                _, triggers = await alert_triggers(db, rule_id)
                unalerted = stored - set(triggers)
                state[:] = [r.row() for r in rows] + [
                    f"events unpublished {len(unpublished)}, not in an alert {len(unalerted)}"
                ]
                return (
                    not unpublished
                    and not unalerted
                    and all(r.indexed == r.stored == r.published for r in rows)
                )

            # The last segments are stored within a segment's length and an upload.
            try:
                await wait_for(complete, within_s=60, what="the roll stored and published")
            except AssertionError:
                raise AssertionError("; ".join(state)) from None
    finally:
        await deployment.stop()
        await followers.close()
        await bus.close()
    rows = [await audit(db, objects, segments_published, c, start, end) for c in ids]
    overlaps = []
    for camera_id in ids:
        found = await segments_of(db, camera_id)
        for a, b in itertools.pairwise(found):
            overlap = (a.end_time - b.start_time).total_seconds()
            if overlap > 0.005:
                overlaps.append(round(overlap, 2))
    # Two replicas never record a camera at once (a handover stops one session before
    # its lease goes), and no packet is stamped after it arrived (stream_clock: the
    # offset follows the least-delayed packets, so a connection's late first packets do
    # not delay the rest): a segment cannot end after the next replica's first keyframe,
    # captured once it connected. 0.5 s allows the old session's least delay on a
    # starved node. (Before stream_clock, overlaps of up to CLOCK_JUMP_S were seen.)
    assert all(o <= OVERLAP_S for o in overlaps), overlaps
    events = await stored_events(db, ids)
    alerts, triggers = await alert_triggers(db, rule_id)
    await objects.close()
    await db.close()
    stored_ids = [e.id for e in events]
    on_bus = collections.Counter(events_published)
    assert len(stored_ids) == len(set(stored_ids)), "no event stored twice"
    assert not [i for i, n in on_bus.items() if n > 1], "no event published twice"
    assert set(on_bus) <= set(stored_ids), "nothing announced that is not stored"
    assert {e.id for e in events if e.event_time < end} <= set(on_bus), "every event published"
    assert not [i for i, n in triggers.items() if n > 1], "no event a trigger twice"
    assert set(triggers) <= set(stored_ids), "every trigger is a stored event"
    assert {e.id for e in events if e.event_time < end} <= set(triggers), "every event alerted"
    for row in rows:
        assert row.indexed == row.stored == row.published > 0, row.row()
        # Each ingest restart hands a camera over at most twice (away, and back).
        assert len(row.holes) <= 4, row.row()
        assert all(length <= HOLE_S for _, length in row.holes), (row.row(), HOLE_S)
    lost = max(sum(length for _, length in row.holes) for row in rows)
    print(
        f"\nroll {(end - start).total_seconds():.0f} s, restarts (s) {restarts}; "
        + "; ".join(r.row() for r in rows)
        + f"; at most {lost:.1f} s of a camera in handovers; overlaps (s) {overlaps}; "
        f"events published {len(on_bus)}, stored {len(stored_ids)}, "
        f"in {alerts} alerts as {len(triggers)} triggers; load {os.getloadavg()[0]:.1f}"
    )
