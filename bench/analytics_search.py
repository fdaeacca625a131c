"""Plate search latency (exact, prefix, wildcard, fuzzy) on a database of synthetic reads.

Reads are 3 letters + 4 digits over 30 days from 200 cameras; every query is limited
to the 50 cameras the caller may see and to one week, as a real search is. The anchor
is a primary-key lookup of one read on the same database.

    .venv/bin/python bench/analytics_search.py [--reads N] [--queries N] [--url URL]

Without --url an SQLite file under var/bench/ is built once per size and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from rtcc.analytics.plates import MatchMode, fold
from rtcc.analytics.queries import PlateQuery
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.tables import plate_reads
from rtcc.backends.database import Database, open_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CAMERAS = [f"cam_{i:04d}" for i in range(200)]
VISIBLE = frozenset(CAMERAS[:50])
WEEK = (T0 + timedelta(days=10), T0 + timedelta(days=17))


def plate(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase, k=3)) + "".join(
        rng.choices(string.digits, k=4)
    )


async def fill(db: Database, n: int) -> list[str]:
    rng = random.Random(7)
    plates: list[str] = []
    batch: list[dict[str, object]] = []
    span = 30 * 86400
    async with db.transaction(readonly=True) as conn:
        have = (
            await conn.execute(sa.select(sa.func.count()).select_from(plate_reads))
        ).scalar_one()
    for i in range(n):
        text = plate(rng)
        plates.append(text)
        if have:
            continue
        batch.append(
            {
                "id": f"plr_{i:09d}", "camera_id": rng.choice(CAMERAS), "organization_id": "org",
                "read_time": T0 + timedelta(seconds=rng.randrange(span)), "plate": text,
                "plate_folded": fold(text), "characters": [[c, 0.9] for c in text],
                "confidence": 0.9, "region": "", "box": [0.1, 0.1, 0.1, 0.05],
                "vehicle_attributes": {}, "track_id": "", "event_id": "", "snapshot_key": "",
            }
        )  # fmt: skip
        if len(batch) == 20_000:
            async with db.transaction() as conn:
                await conn.execute(plate_reads.insert(), batch)
            batch = []
    if batch:
        async with db.transaction() as conn:
            await conn.execute(plate_reads.insert(), batch)
    if db.dialect == "postgresql" and not have:
        async with db.transaction() as conn:  # fresh statistics, as autovacuum would
            await conn.exec_driver_sql("ANALYZE analytics_plate_reads")
    return plates


async def measure(call: Callable[[int], Awaitable[object]], n: int) -> list[float]:
    for i in range(5):
        await call(i)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"| {name:<36} | {statistics.median(samples):8.2f} | {p99:8.2f} |"


async def main(reads: int, queries: int, url: str) -> None:
    url = url or f"sqlite:///var/bench/plates-{reads}.db"  # open_database makes the folder
    db = await open_database(url)
    await db.migrate()
    started = time.perf_counter()
    plates = await fill(db, reads)
    print(f"{reads} reads ready in {time.perf_counter() - started:.0f} s ({db.dialect})")
    store, rng = AnalyticsStore(db), random.Random(11)
    picks = [rng.choice(plates) for _ in range(queries + 5)]

    def search(mode: MatchMode, text: Callable[[str], str], **kw: object):
        async def call(i: int) -> object:
            query = PlateQuery(text(picks[i]), mode, *WEEK, VISIBLE, **kw)  # type: ignore[arg-type]
            return await store.search_plate_reads(query)

        return call

    async def by_id(i: int) -> object:
        return await store.get_plate_read(f"plr_{i * 7919 % reads:09d}", None)

    print(f"| {'plate search, 50 cameras, 7 days':<36} |  p50 ms  |  p99 ms  |")
    print(f"|{'-' * 38}|----------|----------|")
    print(row("anchor: read by id", await measure(by_id, queries)))
    print(row("exact", await measure(search(MatchMode.EXACT, lambda p: p), queries)))
    print(
        row(
            "prefix (3 characters)",
            await measure(search(MatchMode.PREFIX, lambda p: p[:3]), queries),
        )
    )
    print(
        row(
            "wildcard (AB?12*)",
            await measure(
                search(MatchMode.WILDCARD, lambda p: p[:2] + "?" + p[3:5] + "*"), queries
            ),
        )
    )
    print(
        row(
            "fuzzy, 1 edit (one char changed)",
            await measure(search(MatchMode.FUZZY, lambda p: p[:4] + "9" + p[5:]), queries),
        )
    )
    two = await measure(_two_edits(store, picks), max(5, queries // 10))
    print(row("fuzzy, 2 edits (scan, 1 day)", two))
    await db.close()


def _two_edits(store: AnalyticsStore, picks: list[str]) -> Callable[[int], Awaitable[object]]:
    day = (WEEK[0], WEEK[0] + timedelta(days=1))

    async def call(i: int) -> object:
        query = PlateQuery(picks[i], MatchMode.FUZZY, *day, VISIBLE, max_edits=2)
        return await store.search_plate_reads(query)

    return call


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", default="")
    parser.add_argument(
        "--postgres", action="store_true", help="start a private PostgreSQL (infra/servers.py)"
    )
    args = parser.parse_args()
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "infra"))
        import servers

        with servers.start("postgres") as server:
            asyncio.run(main(args.reads, args.queries, server.url))
    else:
        asyncio.run(main(args.reads, args.queries, args.url))
