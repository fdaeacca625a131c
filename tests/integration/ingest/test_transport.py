"""Pulling a camera over RTSP/UDP when its URL asks for it."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from pathlib import Path
from typing import Any

from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import MAIN
from rtcc.ingest.session import CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def own_udp_sockets() -> int:
    """UDP sockets this process holds (RTP/RTCP over UDP uses two per stream)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(match.group(1))
    count = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as handle:
            next(handle)
            count += sum(1 for line in handle if line.split()[9] in inodes)
    return count


async def test_url_hint_pulls_the_camera_over_udp_and_records_it(
    simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    from rtcc.backends.bus import open_bus
    from rtcc.backends.database import open_database
    from rtcc.backends.objectstore import open_object_store

    db = await open_database(f"sqlite:///{tmp_path / 'rtcc.db'}")
    await db.migrate()
    objects = open_object_store(f"file://{tmp_path / 'objects'}")
    bus = await open_bus("memory://")
    index = SegmentIndex(db)
    recorder = Recorder(
        Spool(tmp_path / "spool"), objects, index, bus, settings=SessionSettings(segment_s=2.0)
    )
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    url = simulator.cameras[1].main_url + "?transport=udp"
    before = own_udp_sockets()
    await recorder.start()
    await recorder.ensure([CameraSource(camera_id, url)])
    try:

        async def recorded() -> bool:
            return len(await index.overlapping(camera_id, MAIN, EPOCH, FAR)) >= 2

        await wait_for(recorded, within_s=30, what="segments recorded over UDP")
        session = recorder.sessions[(camera_id, MAIN)]
        assert session.transport == "udp"
        assert own_udp_sockets() >= before + 2, "RTP and RTCP over UDP"
        assert session.health().last_error == ""
    finally:
        await recorder.stop()
        await bus.close()
        await objects.close()
        await db.close()
