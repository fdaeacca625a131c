"""Event search over 10 million stored events on PostgreSQL (issue 14 goal: p99 < 100 ms).

A private PostgreSQL (infra/servers.py) gets the analytics schema (Alembic), then
``--events`` rows generated inside the server (``generate_series``; the events'
secondary indexes dropped during the load and rebuilt as ``rtcc.analytics.tables``
defines them, then VACUUM ANALYZE as autovacuum would): 200 cameras, 30 days, 7 event
types, 3 classes, 13 colours. Queries go through ``AnalyticsStore.search_events`` as
SearchEvents does, each limited to 50 visible cameras and a 7-day range, first page
of 100. The same queries are also run in the single-query shape that search had before
revision 0009 (one walk of ``(event_time)``, cameras as a filter), as the reference.
``--rounds`` repeats the query phase; the slowest query of the last round is shown
with EXPLAIN (ANALYZE, BUFFERS).

``--backend sqlite`` runs the same on an SQLite file (rows from a recursive CTE, no
ANALYZE: the service never runs it); use fewer events there, e.g. ``--events 2000000``.

    .venv/bin/python bench/events_search_pg.py [--events N] [--queries Q] [--rounds R]
        [--backend postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex

from rtcc.analytics import event_search
from rtcc.analytics.queries import EventQuery
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.tables import events
from rtcc.backends.database import Database, open_database

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CAMERAS = [f"cam_{i:03d}" for i in range(200)]
CASES: dict[str, dict[str, list[int]]] = {
    "time + cameras only": {},
    "+ class person (1 in 3)": {"classes": [1]},
    "+ colour red (1 in 13)": {"colors": [5]},
    "+ type line crossing and class vehicle": {"types": [4], "classes": [2]},
}

COLUMNS = """(id, camera_id, organization_id, type, object_class, track_id,
    confidence, event_time, start_time, box, primary_color, secondary_color, vehicle_type,
    attributes, zone_id, line_id, crossing_direction, plate_read_id, latitude, longitude,
    snapshot_key, create_time)"""
PG_FILL = f"""
INSERT INTO analytics_events {COLUMNS}
SELECT 'evt_' || lpad(i::text, 10, '0'), 'cam_' || lpad((i % 200)::text, 3, '0'), 'org',
       1 + (i % 7), 1 + (i % 3), (i / 7)::text, 0.5 + (i % 50) / 100.0,
       CAST(:t0 AS timestamptz) + make_interval(secs => (i::bigint * 2654435761 % 2592000)),
       CAST(:t0 AS timestamptz) + make_interval(secs => (i::bigint * 2654435761 % 2592000)),
       '[0.1, 0.1, 0.2, 0.3]'::jsonb, 1 + (i * 7 % 13), 0, CASE WHEN i % 3 = 1 THEN 1 ELSE 0 END,
       '{{}}'::jsonb, '', '', 0, '', 41.88, -87.63, '',
       CAST(:t0 AS timestamptz) + make_interval(secs => (i::bigint * 2654435761 % 2592000))
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
"""
# The same rows on SQLite (times as the naive UTC text UTCDateTime stores there).
_SQLITE_TIME = (
    "strftime('%Y-%m-%d %H:%M:%S', :t0, '+' || (i * 2654435761 % 2592000) || ' seconds')"
    " || '.000000'"
)
SQLITE_FILL = f"""
WITH RECURSIVE s(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM s WHERE i < :last)
INSERT INTO analytics_events {COLUMNS}
SELECT 'evt_' || printf('%010d', i), 'cam_' || printf('%03d', i % 200), 'org',
       1 + (i % 7), 1 + (i % 3), CAST(i / 7 AS TEXT), 0.5 + (i % 50) / 100.0,
       {_SQLITE_TIME}, {_SQLITE_TIME},
       '[0.1, 0.1, 0.2, 0.3]', 1 + (i * 7 % 13), 0, CASE WHEN i % 3 = 1 THEN 1 ELSE 0 END,
       '{{}}', '', '', 0, '', 41.88, -87.63, '', {_SQLITE_TIME}
FROM s
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
    postgres = db.dialect == "postgresql"
    started = time.perf_counter()
    async with db.transaction() as conn:
        for index in events.indexes:
            await conn.execute(sa.text(f"DROP INDEX IF EXISTS {index.name}"))
    step = 1_000_000
    for first in range(0, n, step):
        params = {"first": first, "last": min(n, first + step) - 1}
        async with db.transaction() as conn:
            if postgres:
                await conn.execute(sa.text(PG_FILL), {"t0": T0, **params})
            else:
                await conn.execute(sa.text(SQLITE_FILL), {"t0": "2026-01-01 00:00:00", **params})
    async with db.transaction() as conn:
        for index in events.indexes:
            await conn.execute(CreateIndex(index))
    if postgres:
        async with db.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM (ANALYZE) analytics_events")
    await db.close()
    return time.perf_counter() - started


def _queries(rng: random.Random, criteria: dict[str, list[int]], n: int) -> list[EventQuery]:
    queries = []
    for _ in range(n):
        start = T0 + timedelta(days=rng.uniform(0, 23))
        visible = frozenset(rng.sample(CAMERAS, 50))
        queries.append(EventQuery(start, start + timedelta(days=7), visible, **criteria))  # type: ignore[arg-type]
    return queries


async def _single_walk(db: Database, query: EventQuery) -> int:
    """The reference: the search as one walk of (event_time), as before revision 0009."""
    select, params = event_search.statement(
        query, query.allowed_cameras, 100, None, event_search.Shape.TIME_WALK
    )
    async with db.transaction(readonly=True) as conn:
        return len((await conn.execute(select, params)).all())


def _p(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), sorted(samples)[int(0.99 * (len(samples) - 1))]


async def measure(url: str, queries: int, rounds: int) -> None:
    db = await open_database(url)
    store = AnalyticsStore(db)
    worst: tuple[float, EventQuery] | None = None
    for round_ in range(1, rounds + 1):
        rng = random.Random(9)  # every round asks the same queries
        print(f"\nround {round_} of {rounds} ({db.dialect})\n")
        print("| criteria | p50 ms | p99 ms | before 0009: p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        worst = None
        for name, criteria in CASES.items():
            new, old = [], []
            for q, query in enumerate(_queries(rng, criteria, queries + 5)):
                t = time.perf_counter()
                await store.search_events(query)
                took = (time.perf_counter() - t) * 1000
                t = time.perf_counter()
                await _single_walk(db, query)
                took_old = (time.perf_counter() - t) * 1000
                if q >= 5:
                    new.append(took)
                    old.append(took_old)
                    if worst is None or took > worst[0]:
                        worst = (took, query)
            (p50, p99), (o50, o99) = _p(new), _p(old)
            print(f"| {name} | {p50:.1f} | {p99:.1f} | {o50:.1f} | {o99:.1f} |")
    if worst is not None and db.dialect == "postgresql":
        await explain(db, worst[1], worst[0])
    await db.close()


async def explain(db: Database, query: EventQuery, took: float) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of a query as search_events runs it (its second run)."""
    select, params = event_search.statement(query, query.allowed_cameras, 100, None)
    async with db.transaction(readonly=True) as conn:
        state = select.compile(dialect=conn.dialect).construct_expanded_state(params)
        args = tuple(state.parameters[name] for name in state.positiontup or ())
        result = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + state.statement, args)
        plan = [row[0] for row in result]
    criteria = {k: v for k, v in vars(query).items() if k in ("classes", "types", "colors") and v}
    print(f"\nslowest query of the last round ({took:.1f} ms; {criteria}, from {query.start}):")
    lines = [line for line in plan if "->" in line or "Buffers" in line or line[:1] != " "]
    shown = [*lines[:16], "  ...", *lines[-10:]] if len(lines) > 30 else lines
    print("\n".join(shown))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.backend == "postgresql":
            (server,) = stack.enter_context(_servers().running("postgres"))
            url = server.url
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="rtcc-events-"))
            url = f"sqlite:///{folder}/events.db"
        seconds = asyncio.run(fill(url, args.events))
        print(f"{args.events} events loaded and indexed in {seconds:.0f} s ({args.backend})")
        asyncio.run(measure(url, args.queries, args.rounds))


if __name__ == "__main__":
    main()
