"""Drill: the spool's disk fills up while a real `rtcc serve --target=registry,ingest`
process records two cameras.

The spool is a real 32 MiB filesystem: the server runs under ``unshare -m`` (a private
mount namespace, so nothing is mounted on the host and the mount dies with the
process; ``-r -m``, a user namespace too, when not root), which mounts a tmpfs of that
size on its spool directory before the server starts.
The drill reaches that filesystem through ``/proc/<pid>/root``. MinIO is taken away
first (through a TCP proxy), so closed segments wait in the spool; then the drill
fills the disk to the last byte with a ballast file (real ENOSPC), holds it full
until both cameras report the condition and for at least two segment lengths (8 s),
then frees it and brings MinIO back.

It checks: every segment that was spooled when the disk filled is stored, indexed and
published (nothing spooled is lost); the process stays SERVING and reports the
condition (the cameras' status rows: recording false with the spool's error; a
`spool_full` log line); stored segments match their indexed SHA-256 (nothing
corrupted); recording resumes by itself, after one hole per camera, which the index
marks (the next segment's discontinuity) and which is bounded by the time the disk
was full plus a keyframe interval and a fragment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from tests.waiting import wait_for

from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.ingest import tables
from rtcc.ingest.segment import BUCKET, MAIN, epoch_ms
from rtcc.ingest.spool import Spool

from .conftest import KEYFRAME_S, Deployment, TcpProxy
from .fleet import SEGMENT_S, Followers, audit, segment_key, segments_of

SPOOL_MIB = 32
FULL_S = 2 * SEGMENT_S
pytestmark = [pytest.mark.minio, pytest.mark.nats]


def _private_tmpfs(path: Path) -> list[str]:
    """Run a command in a private mount namespace with a small tmpfs on `path`."""
    if shutil.which("unshare") is None:
        raise AssertionError("the spool drill needs util-linux's unshare")
    script = f'mount -t tmpfs -o size={SPOOL_MIB}m tmpfs "$0" && exec "$@"'
    # As root a mount namespace is enough; otherwise a user namespace grants the mount.
    flags = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]
    return ["unshare", *flags, "sh", "-c", script, str(path)]


def _fill(path: Path) -> int:
    """Write zeros to `path` until the filesystem refuses (ENOSPC); bytes written."""
    written = 0
    block = b"\0" * (1 << 20)
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                written += handle.write(block)
            except OSError:
                block = block[: len(block) // 2]
                if len(block) < 4096:
                    return written


async def test_a_full_spool_disk_loses_nothing_spooled_and_recovers_by_itself(
    deployment: Deployment, drill_cameras: Any, minio_url: str, nats_url: str, tmp_path: Path
) -> None:
    parts = urlsplit(minio_url.replace("s3://", "http://"))
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 0)
    await proxy.up()
    through = minio_url.replace(f":{parts.port}", f":{proxy.port}", 1)
    server = deployment.server(
        "full-node", "registry,ingest", RTCC_OBJECT_STORE_URL=through, RTCC_BUS_URL=nats_url
    )
    spool_root = server.data_dir / "ingest-spool"
    spool_root.mkdir(parents=True)
    server.prefix = _private_tmpfs(spool_root)
    objects, bus = open_object_store(minio_url), await open_bus(nats_url)
    followers = Followers()
    published = followers.start(bus, "rtcc.segment.created", segment_key)
    db = None
    try:
        await server.start()
        await server.wait_serving()
        assert server.process is not None
        # The spool as the server sees it: on its own 32 MiB filesystem.
        spool = Path(f"/proc/{server.process.pid}/root") / spool_root.relative_to("/")
        _, ids = await deployment.register(server.address, drill_cameras)
        db = await open_database(f"sqlite:///{server.data_dir / 'rtcc.db'}")

        async def indexed(count: int, after: dt.datetime) -> bool:
            for camera_id in ids:
                if sum(s.start_time >= after for s in await segments_of(db, camera_id)) < count:
                    return False
            return True

        def spooled() -> dict[str, set[str]]:
            """Per camera, the segments complete in the spool (their descriptions)."""
            return {c: {p.stem for p in (spool / c / str(MAIN)).glob("*.json")} for c in ids}

        async def statuses() -> dict[str, Any]:
            s = tables.stream_statuses
            async with db.transaction(readonly=True) as conn:
                rows = (await conn.execute(sa.select(s).where(s.c.stream == MAIN))).all()
            return {r.camera_id: r for r in rows if r.camera_id in ids}

        started = dt.datetime.now(dt.UTC)
        await wait_for(lambda: indexed(2, started), within_s=60, what="2 segments of each")
        window_start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=SEGMENT_S)
        # MinIO away: closed segments stay in the spool.
        await proxy.down()
        await wait_for(
            lambda: all(len(v) >= 2 for v in spooled().values()), within_s=30,
            what="2 segments of each camera waiting in the spool",
        )  # fmt: skip
        # The disk fills to its last byte (another writer on the node, as it happens).
        ballast = spool / "ballast"
        filled = await asyncio.to_thread(_fill, ballast)
        full_at = dt.datetime.now(dt.UTC)
        kept = spooled()  # recorded and spooled when the disk filled: must all be stored

        async def reported() -> bool:
            rows = await statuses()
            return len(rows) == len(ids) and all(
                not r.recording and "spool" in r.last_error for r in rows.values()
            )

        await wait_for(reported, within_s=30, what="both cameras report the full spool")
        # Full while every camera goes on streaming for two segment lengths (it sheds
        # several segments' openings meanwhile): packets reported past that point.
        shed_until = full_at + dt.timedelta(seconds=FULL_S)

        async def streamed_while_full() -> bool:
            rows = await statuses()
            return len(rows) == len(ids) and all(
                r.last_packet_time is not None and r.last_packet_time >= shed_until
                for r in rows.values()
            )

        await wait_for(
            streamed_while_full, within_s=FULL_S + 30,
            what="both cameras streaming two segment lengths into the full spool",
        )  # fmt: skip
        assert await server.serving(), "ingest stays SERVING with its spool full"
        assert await reported(), "still reported while full"
        ballast.unlink()
        freed_at = dt.datetime.now(dt.UTC)
        full_s = (freed_at - full_at).total_seconds()
        await proxy.up()

        async def resumed() -> bool:
            rows = await statuses()
            return len(rows) == len(ids) and all(r.recording for r in rows.values())

        await wait_for(resumed, within_s=30, what="recording resumed by itself")
        await wait_for(lambda: indexed(2, freed_at), within_s=40, what="2 segments after")
        window_end = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=SEGMENT_S)

        async def drained() -> bool:
            done = True
            for camera_id, stems in kept.items():
                starts = {str(epoch_ms(s.start_time)) for s in await segments_of(db, camera_id)}
                done = done and stems <= starts
            return done and not any(spooled().values())

        await wait_for(drained, within_s=60, what="every spooled segment stored")
        await wait_for(
            lambda: _all_published(db, objects, published, ids, window_start, window_end),
            within_s=30, what="every segment of the window published",
        )  # fmt: skip
        audits = [await audit(db, objects, published, c, window_start, window_end) for c in ids]
        log_text = server.log_path.read_text(errors="replace")
        report = []
        for camera_id, row in zip(ids, audits, strict=True):
            found = await segments_of(db, camera_id)
            window = [s for s in found if s.end_time > window_start and s.start_time < window_end]
            for seg in window:  # nothing stored is corrupt: the bytes are the indexed ones
                data = await objects.get(BUCKET, seg.object_key)
                assert hashlib.sha256(data).hexdigest() == seg.sha256, seg.object_key
            assert row.indexed == row.stored == row.published, row.row()
            assert len(row.holes) <= 1, row.row()
            hole = row.holes[0][1] if row.holes else 0.0
            after = [s for s in window if s.start_time >= full_at]
            assert after and after[0].discontinuity, "the hole is marked in the index"
            # Full for `full_s`; then the next keyframe, plus the segment in progress
            # when the disk filled (dropped whole: it never was spooled).
            assert hole <= full_s + KEYFRAME_S + SEGMENT_S + 1.0, (hole, full_s)
            report.append(f"{row.row()}; hole {hole:.1f} s")
        assert '"spool_full"' in log_text and '"spool_has_room_again"' in log_text
    finally:
        await deployment.stop()
        await followers.close()
        await proxy.down()
        await bus.close()
        await objects.close()
        if db is not None:
            await db.close()
    print(
        f"\nspool {SPOOL_MIB} MiB filled with {filled / 2**20:.1f} MiB of ballast; "
        f"full {full_s:.1f} s; kept {sum(map(len, kept.values()))} spooled segments; "
        + "; ".join(report)
    )


async def _all_published(
    db: Any, objects: Any, published: list[str], ids: list[str], start: Any, end: Any
) -> bool:
    for camera_id in ids:
        row = await audit(db, objects, published, camera_id, start, end)
        if not row.indexed == row.stored == row.published:
            return False
    return True


def test_the_spool_keeps_a_reserve_and_says_so_once(tmp_path: Path) -> None:
    """The free-space check the sessions call at each segment: no room while the
    filesystem has less than the reserve free; the reason kept for the health report."""
    spool = Spool(tmp_path / "spool")
    assert 0 < spool.reserve_bytes <= 64 << 20
    free = spool.free_bytes()
    assert spool.has_room() and not spool.full_reason
    spool.reserve_bytes = free * 2  # as if the disk had filled up to the reserve
    assert not spool.has_room() and not spool.has_room()
    assert "disk is full" in spool.full_reason
    spool.reserve_bytes = 0
    assert spool.has_room() and not spool.full_reason
