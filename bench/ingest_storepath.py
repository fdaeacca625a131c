"""CPU per segment of the storage path shared by both recording engines.

Spool -> file object store -> SQLite index, for 1 MiB segments, 8 per drain pass:
`put_file` taking a read-only spooled file by hard link against copying a writable one,
index rows one transaction each against one transaction per pass, `spool.pending()`
with its description cache against re-reading every description, and a whole
`Uploader.drain()`. CPU is process time (all threads), per segment.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import tempfile
import time
import uuid
from pathlib import Path

from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore_file import FileObjectStore
from rtcc.ingest.segment import BUCKET, ClosedSegment
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex
from rtcc.ingest.uploader import Uploader

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _segment(camera: str, n: int, size: int, digest: str) -> ClosedSegment:
    start = EPOCH + dt.timedelta(seconds=4 * n)
    return ClosedSegment(
        id=f"seg_{uuid.uuid4().hex}",
        camera_id=camera,
        stream=0,
        start_time=start,
        end_time=start + dt.timedelta(seconds=4),
        size_bytes=size,
        sha256=digest,
        video_codec="h264",
        width=1280,
        height=720,
        frame_rate=25.0,
        frames=100,
        discontinuity=False,
    )


def _spool_pass(spool: Spool, first: int, per_pass: int, data: bytes) -> list[ClosedSegment]:
    digest = hashlib.sha256(data).hexdigest()
    segs = []
    for i in range(per_pass):
        seg = _segment(f"cam_{i}", first, len(data), digest)
        part = spool.part_path(seg.camera_id, 0, int(seg.start_time.timestamp() * 1000))
        part.write_bytes(data)
        segs.append(seg)
        spool.commit(part, seg)
    return segs


def _cpu_ms() -> float:
    return time.process_time() * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=12)
    parser.add_argument("--per-pass", type=int, default=8)
    parser.add_argument("--segment-bytes", type=int, default=1 << 20)
    args = parser.parse_args()
    data = os.urandom(args.segment_bytes)
    n = args.passes * args.per_pass
    with tempfile.TemporaryDirectory() as top:
        work = Path(top)
        store = FileObjectStore(work / "objects")
        await store.ensure_bucket(BUCKET, object_lock=True)
        db = await open_database(f"sqlite:///{work / 'rtcc.db'}")
        await db.migrate()
        index = SegmentIndex(db)
        spool = Spool(work / "spool")
        rows: dict[str, float] = {}
        warm = work / "warm.mp4"
        warm.write_bytes(data)
        await store.put_file(BUCKET, "bench/warm.mp4", warm)  # first-call costs out of the rows
        await index.add(_segment("cam_warm", 0, len(data), "0" * 64), now=EPOCH, expire_time=None)

        for label, mode in (
            ("put_file, copy (writable source)", 0o644),
            ("put_file, hard link (read-only source)", 0o444),
        ):
            sources = []
            for i in range(n):
                path = work / "spool" / f"{label[-9:-1]}-{i}.mp4"
                path.write_bytes(data)
                path.chmod(mode)
                sources.append(path)
            t0 = _cpu_ms()
            for i, path in enumerate(sources):
                await store.put_file(BUCKET, f"bench/{mode}/{i}.mp4", path)
            rows[label] = (_cpu_ms() - t0) / n
            for path in sources:
                path.unlink()

        now = dt.datetime.now(dt.UTC)
        segs = [_segment("cam_row", i, len(data), "0" * 64) for i in range(n)]
        t0 = _cpu_ms()
        for seg in segs:
            await index.add(seg, now=now, expire_time=None)
        rows["index row, one transaction per segment"] = (_cpu_ms() - t0) / n
        segs = [_segment("cam_batch", i, len(data), "0" * 64) for i in range(n)]
        t0 = _cpu_ms()
        for first in range(0, n, args.per_pass):
            batch = segs[first : first + args.per_pass]
            await index.add_many([(s, None) for s in batch], now=now)
        rows[f"index rows, one transaction per {args.per_pass}"] = (_cpu_ms() - t0) / n

        _spool_pass(spool, 10_000, args.per_pass, data)
        spool.pending()
        t0 = _cpu_ms()
        for _ in range(args.passes):
            spool._described.clear()  # as before the cache: every description read
            spool.pending()
        rows["spool.pending(), re-reading descriptions"] = (_cpu_ms() - t0) / n
        t0 = _cpu_ms()
        for _ in range(args.passes):
            spool.pending()
        rows["spool.pending(), cached descriptions"] = (_cpu_ms() - t0) / n
        for item in spool.pending():
            spool.remove(item)

        bus = await open_bus("memory://")
        uploader = Uploader(spool, store, index, bus)
        total = 0.0
        for p in range(args.passes):
            _spool_pass(spool, 20_000 + p, args.per_pass, data)
            t0 = _cpu_ms()
            await uploader.drain()
            total += _cpu_ms() - t0
        assert uploader.stored == n and not spool.pending()
        rows["whole drain pass (store, index, bus, spool)"] = total / n
        await bus.close()
        await db.close()
    load = os.getloadavg()[0]
    print(f"{n} segments of {args.segment_bytes} bytes, {args.per_pass} per pass; load {load:.1f}")
    print("| step | CPU ms/segment |\n|---|---|")
    for label, ms in rows.items():
        print(f"| {label} | {ms:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
