"""Crime analysis and cross-camera search speed (docs/investigations.md).

* hotspot run over 100,000 incidents (goal < 5 s): kernel density + Gi* (normal
  p-values, the default; and with 999 permutations), warm (the first call also imports
  esda/libpysal: reported apart); wall and CPU seconds (the machine is shared);
  plus the input SHA-256, a Knox test (5,000 incidents, 999 permutations) and trends;
* cross-camera appearance search over 1,000,000 stored tracks (object-appeared events
  with an appearance; 200 cameras, 30 days) on SQLite: candidates of 20 neighbouring
  cameras within +-1 h (and +-6 h) of the source, ranked, the 20 best loaded — p50/p95
  (goal p95 < 200 ms).
  The registry's geo look-up is not included (bench/registry_geo.py measures it).

    .venv/bin/python bench/investigations.py [--tracks N] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from rtcc.analytics import appearance, crime
from rtcc.analytics.rpc_similar import load_events, rank, similar_candidates
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.tables import events
from rtcc.backends.database import Database, open_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CAMERAS = [f"cam_{i:03d}" for i in range(200)]


def _incidents(n: int, seed: int = 1) -> list[crime.Incident]:
    rng = np.random.default_rng(seed)
    lat = 41.88 + rng.normal(0, 0.03, n)
    lon = -87.63 + rng.normal(0, 0.04, n)
    hot = n // 20
    lat[:hot] = 41.90 + rng.normal(0, 0.002, hot)
    lon[:hot] = -87.65 + rng.normal(0, 0.002, hot)
    minutes = rng.integers(0, 60 * 24 * 63, n)
    return [
        crime.Incident(f"i{k}", float(lat[k]), float(lon[k]),
                       T0 + timedelta(minutes=int(minutes[k])), f"beat{k % 25}")
        for k in range(n)
    ]  # fmt: skip


def _timed(call: object, repeat: int = 3) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()  # type: ignore[operator]
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def analysis() -> None:
    points = _incidents(100_000)
    started = time.perf_counter()
    crime.hotspots(points[:100], permutations=0)  # imports esda, libpysal (cold start)
    cold = time.perf_counter() - started
    result = crime.hotspots(points)
    spread = random.Random(2).sample(points, 5000)
    runs = [
        ("hotspots, 100,000 incidents (KDE + Gi*, normal p)", "< 5 s",
         lambda: crime.hotspots(points), 3),
        ("hotspots, 100,000 incidents, 999 permutations", "",
         lambda: crime.hotspots(points, permutations=999), 1),
        ("input SHA-256, 100,000 incidents", "", lambda: crime.input_sha256(points), 3),
        ("Knox test, 5,000 incidents, 999 permutations", "",
         lambda: crime.knox(spread, permutations=999), 1),
        ("CompStat trends, 100,000 incidents, 25 areas, 8 weeks", "",
         lambda: crime.trends(points, week_end=T0 + timedelta(weeks=9)), 3),
    ]  # fmt: skip
    print(f"crime analysis ({result.rows}x{result.cols} grid of 250 m, {len(result.cells)} hot)")
    print("| run | wall s | CPU s | goal |")
    print("|---|---:|---:|---|")
    for name, goal, call, repeat in runs:
        wall, cpu = _timed(call, repeat)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {goal} |")
    print(f"| first call's imports (esda, libpysal), once per process | {cold:.2f} | | |")


async def fill(db: Database, n: int) -> None:
    async with db.transaction(readonly=True) as conn:
        have = (await conn.execute(sa.select(sa.func.count()).select_from(events))).scalar_one()
    if have >= n:
        return
    rng = np.random.default_rng(3)
    looks = rng.dirichlet(np.ones(appearance.HALF) * 0.3, size=(4096, 2)).reshape(4096, -1)
    codes = [appearance.encode(v.astype(np.float32)) for v in looks]
    span = 30 * 86400
    batch = []
    for i in range(n):
        when = T0 + timedelta(seconds=int(rng.integers(span)))
        batch.append(
            {
                "id": f"evt_{i:09d}", "camera_id": CAMERAS[int(rng.integers(200))],
                "organization_id": "org", "type": 1, "object_class": 1, "track_id": str(i),
                "confidence": 0.8, "event_time": when, "start_time": when,
                "box": [0.1, 0.1, 0.1, 0.3], "primary_color": 0, "secondary_color": 0,
                "vehicle_type": 0, "attributes": {"appearance": codes[i % 4096]},
                "zone_id": "", "line_id": "", "crossing_direction": 0, "plate_read_id": "",
                "latitude": 41.88, "longitude": -87.63, "snapshot_key": "",
                "create_time": when,
            }
        )  # fmt: skip
        if len(batch) == 20_000:
            async with db.transaction() as conn:
                await conn.execute(events.insert(), batch)
            batch = []
    if batch:
        async with db.transaction() as conn:
            await conn.execute(events.insert(), batch)


async def search(tracks: int, url: str, queries: int) -> None:
    db = await open_database(url or f"sqlite:///var/bench/tracks-{tracks}.db")
    await db.migrate()
    started = time.perf_counter()
    await fill(db, tracks)
    print(f"\n{tracks} tracks ready in {time.perf_counter() - started:.0f} s ({db.dialect})")
    store, rng = AnalyticsStore(db), random.Random(5)
    print("| cross-camera search, 20 neighbouring cameras | p50 ms | p95 ms | candidates |")
    print("|---|---:|---:|---:|")
    for hours in (1, 6):
        samples, sizes = [], []
        for q in range(queries + 3):
            source = await store.get_event(f"evt_{rng.randrange(tracks):09d}", None)
            near = frozenset(rng.sample(CAMERAS, 20)) | {source.camera_id}
            look = appearance.decode(str(source.attributes["appearance"]))
            assert look is not None
            t = time.perf_counter()
            found = await similar_candidates(store, source, near, timedelta(hours=hours))
            ranked = rank(source, look, found, 0.0, 20)
            await load_events(store, [c.id for c, _ in ranked])  # the 20 best, whole
            if q >= 3:  # warm-up
                samples.append((time.perf_counter() - t) * 1000)
                sizes.append(len(found))
        p95 = sorted(samples)[int(0.95 * (len(samples) - 1))]
        print(
            f"| +-{hours} h | {statistics.median(samples):.1f} | {p95:.1f} | "
            f"{statistics.median(sizes):.0f} |"
        )
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    analysis()
    asyncio.run(search(args.tracks, args.url, args.queries))


if __name__ == "__main__":
    main()
