"""What an ingest replica's lease renewal costs per tick: one statement for all its
leases (`LeaseStore.renew_many`, now) against one round trip per camera (before).

A private PostgreSQL (infra/servers.py) and SQLite on the local disk; N leases held by
one replica, renewed R times each way, alone and with the event loop shared with a busy
neighbour (a coroutine that holds the loop 5 ms of every 6, as per-packet work and
gRPC calls do on a starved node). The figure that matters is the tick's renewal time
against the 10 s lease.

    .venv/bin/python bench/lease_renewal.py [--leases 33,100,333] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from contextlib import ExitStack

from events_search_pg import _servers  # bench/ is on the path when run as a script

from rtcc.backends.database import open_database
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL

TTL = dt.timedelta(seconds=120)  # long enough that the slow way never loses one here


async def _busy(stop: asyncio.Event) -> None:
    while not stop.is_set():
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0.001)


async def measure(url: str, counts: list[int], rounds: int) -> None:
    db = await open_database(url)
    await db.migrate()
    store = LeaseStore(db)
    for n in counts:
        cameras = [f"cam_bench_{n}_{i:05d}" for i in range(n)]
        held = {}
        for camera_id in cameras:
            held[camera_id] = (await store.acquire(camera_id, INGEST_POOL, "r1", TTL)).epoch
        for loaded in (False, True):
            stop = asyncio.Event()
            neighbour = asyncio.create_task(_busy(stop)) if loaded else None
            one, each = [], []
            for _ in range(rounds):
                started = time.perf_counter()
                renewed = await store.renew_many(INGEST_POOL, "r1", held, TTL)
                one.append(time.perf_counter() - started)
                assert len(renewed) == n
                started = time.perf_counter()
                for camera_id, epoch in held.items():
                    await store.renew(camera_id, INGEST_POOL, "r1", epoch, TTL)
                each.append(time.perf_counter() - started)
            stop.set()
            if neighbour is not None:
                await neighbour
            print(
                f"| {db.dialect} | {n} | {'busy' if loaded else 'idle'} "
                f"| {statistics.median(one) * 1000:.1f} | {max(one) * 1000:.1f} "
                f"| {statistics.median(each) * 1000:.1f} | {max(each) * 1000:.1f} "
                f"| {statistics.median(each) / statistics.median(one):.0f}x |",
                flush=True,
            )
        for camera_id, epoch in held.items():
            await store.release(camera_id, INGEST_POOL, "r1", epoch)
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leases", default="33,100,333")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    counts = [int(x) for x in args.leases.split(",")]
    print("| database | leases | event loop | one statement p50 ms | max | one per camera p50 ms"
          " | max | ratio |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    with ExitStack() as stack:
        (server,) = stack.enter_context(_servers().running("postgres"))
        asyncio.run(measure(server.url, counts, args.rounds))
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="rtcc-leases-"))
        asyncio.run(measure(f"sqlite:///{folder}/leases.db", counts, args.rounds))


if __name__ == "__main__":
    main()
