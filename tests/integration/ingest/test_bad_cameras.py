"""Bad cameras get a clear health status and never hold up the good ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.ingest.health import OFFLINE, ONLINE
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import MAIN
from rtcc.ingest.session import CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("engine", ["pyav", "ffmpeg"])
async def test_unreachable_and_missing_cameras_are_offline_while_others_record(
    simulator: Any, tmp_path: Path, wait_for: Any, engine: str
) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'rtcc.db'}")
    await db.migrate()
    bus = await open_bus("memory://")
    index = SegmentIndex(db)
    recorder = Recorder(
        Spool(tmp_path / "spool"),
        open_object_store(f"file://{tmp_path / 'objects'}"),
        index,
        bus,
        settings=SessionSettings(
            segment_s=2.0, backoff_initial_s=0.2, backoff_max_s=1.0, engine=engine
        ),
    )
    good, gone, wrong = (f"cam_{uuid.uuid4().hex[:8]}" for _ in range(3))
    base = simulator.cameras[0].main_url.rsplit("/", 1)[0]
    await recorder.start()
    await recorder.ensure(
        [
            CameraSource(good, simulator.cameras[0].main_url),
            CameraSource(gone, f"rtsp://admin:hunter2@127.0.0.1:{_closed_port()}/live"),
            CameraSource(wrong, f"{base}/no-such-mount"),
        ]
    )
    try:

        async def good_recorded() -> bool:
            return len(await index.overlapping(good, MAIN, EPOCH, FAR)) >= 2

        await wait_for(good_recorded, within_s=30, what="the good camera's segments")
        await wait_for(
            lambda: all(
                recorder.sessions[(c, MAIN)].health().reconnect_count >= 2 for c in (gone, wrong)
            ),
            within_s=20,
            what="bad cameras retrying",
        )
        for camera_id in (gone, wrong):
            health = recorder.sessions[(camera_id, MAIN)].health()
            assert health.state == OFFLINE and health.last_error
            assert "hunter2" not in health.last_error
            assert not await index.overlapping(camera_id, MAIN, EPOCH, FAR)
        assert recorder.sessions[(good, MAIN)].health().state == ONLINE
    finally:
        await asyncio.wait_for(recorder.stop(), 30)
        await bus.close()
        await db.close()
