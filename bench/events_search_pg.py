"""Event search over 10 million stored events on PostgreSQL (issue 14 goal: p99 < 100 ms).

A private PostgreSQL (infra/servers.py) gets the analytics schema (Alembic), then
``--events`` rows generated inside the server (``generate_series``; indexes dropped
during the load and rebuilt, then ANALYZE): 200 cameras, 30 days, 7 event types,
3 classes, 13 colours. Queries go through ``AnalyticsStore.search_events`` as
SearchEvents does, each limited to 50 visible cameras and a 7-day range, first page
of 100:

    .venv/bin/python bench/events_search_pg.py [--events N] [--queries Q]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from rtcc.analytics.queries import EventQuery
from rtcc.analytics.store import AnalyticsStore
from rtcc.backends.database import open_database

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CAMERAS = [f"cam_{i:03d}" for i in range(200)]
INDEXES = ("ix_analytics_events_camera_time", "ix_analytics_events_time")

FILL = """
INSERT INTO analytics_events (id, camera_id, organization_id, type, object_class, track_id,
    confidence, event_time, start_time, box, primary_color, secondary_color, vehicle_type,
    attributes, zone_id, line_id, crossing_direction, plate_read_id, latitude, longitude,
    snapshot_key, create_time)
SELECT 'evt_' || lpad(i::text, 10, '0'), 'cam_' || lpad((i % 200)::text, 3, '0'), 'org',
       1 + (i % 7), 1 + (i % 3), (i / 7)::text, 0.5 + (i % 50) / 100.0,
       CAST(:t0 AS timestamptz) + make_interval(secs => (i::bigint * 2654435761 % 2592000)),
       CAST(:t0 AS timestamptz) + make_interval(secs => (i::bigint * 2654435761 % 2592000)),
       '[0.1, 0.1, 0.2, 0.3]'::jsonb, 1 + (i * 7 % 13), 0, CASE WHEN i % 3 = 1 THEN 1 ELSE 0 END,
       '{}'::jsonb, '', '', 0, '', 41.88, -87.63, '',
       CAST(:t0 AS timestamptz) + make_interval(secs => (i::bigint * 2654435761 % 2592000))
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
"""


def _servers() -> Any:
    spec = importlib.util.spec_from_file_location("rtcc_servers", ROOT / "infra" / "servers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def fill(url: str, n: int) -> float:
    db = await open_database(url)
    await db.migrate()
    started = time.perf_counter()
    async with db.transaction() as conn:
        for name in INDEXES:
            await conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
    step = 1_000_000
    for first in range(0, n, step):
        async with db.transaction() as conn:
            await conn.execute(
                sa.text(FILL), {"t0": T0, "first": first, "last": min(n, first + step) - 1}
            )
    async with db.transaction() as conn:
        await conn.execute(
            sa.text(f"CREATE INDEX {INDEXES[0]} ON analytics_events (camera_id, event_time)")
        )
        await conn.execute(sa.text(f"CREATE INDEX {INDEXES[1]} ON analytics_events (event_time)"))
    async with db.transaction() as conn:
        await conn.execute(sa.text("ANALYZE analytics_events"))
    await db.close()
    return time.perf_counter() - started


async def measure(url: str, queries: int) -> None:
    db = await open_database(url)
    store, rng = AnalyticsStore(db), random.Random(9)
    cases = {
        "7 days, 50 cameras (newest 100)": {},
        "+ class person": {"classes": [1]},
        "+ colour red (1 in 13)": {"colors": [5]},
        "+ type line crossing, class vehicle": {"types": [4], "classes": [2]},
    }
    print("| event search, PostgreSQL | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    for name, criteria in cases.items():
        samples = []
        for q in range(queries + 5):
            start = T0 + timedelta(days=rng.uniform(0, 23))
            visible = frozenset(rng.sample(CAMERAS, 50))
            query = EventQuery(start, start + timedelta(days=7), visible, **criteria)
            t = time.perf_counter()
            await store.search_events(query)
            if q >= 5:
                samples.append((time.perf_counter() - t) * 1000)
        p99 = sorted(samples)[int(0.99 * (len(samples) - 1))]
        print(f"| {name} | {statistics.median(samples):.1f} | {p99:.1f} |")
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    with _servers().running("postgres") as (server,):
        seconds = asyncio.run(fill(server.url, args.events))
        print(f"{args.events} events loaded and indexed in {seconds:.0f} s")
        asyncio.run(measure(server.url, args.queries))


if __name__ == "__main__":
    main()
