"""Event-only recording: only the segments around an analytics event are stored."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from pathlib import Path
from typing import Any

from google.protobuf import timestamp_pb2

from rtcc.analytics.v1 import analytics_pb2
from rtcc.ingest.event_feed import SUBJECT as EVENTS
from rtcc.ingest.event_windows import EventRollSettings
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import MAIN
from rtcc.ingest.session import CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
PRE, POST = 2.0, 3.0


def analytics_event(camera_id: str, when: dt.datetime) -> bytes:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    event = analytics_pb2.Event(
        id=f"evt_{uuid.uuid4().hex[:10]}", camera_id=camera_id, event_time=stamp
    )
    return event.SerializeToString()


async def test_event_only_camera_stores_segments_around_an_event_and_drops_the_rest(
    simulator: Any, backends: Any, tmp_path: Path, wait_for: Any
) -> None:
    index = SegmentIndex(backends.db)
    recorder = Recorder(
        Spool(tmp_path / "spool"),
        backends.objects,
        index,
        backends.bus,
        settings=SessionSettings(segment_s=2.0),
        event_roll=EventRollSettings(pre_roll_s=PRE, post_roll_s=POST, grace_s=0.5),
    )
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    source = CameraSource(camera_id, simulator.cameras[0].main_url, event_only=True)
    await recorder.start()
    await recorder.ensure([source])
    uploader = recorder.uploader
    try:
        # Before any event: segments are recorded, then dropped once the pre-roll passed.
        await wait_for(lambda: uploader.dropped >= 2, within_s=30, what="unclaimed drops")
        assert await index.overlapping(camera_id, MAIN, EPOCH, FAR) == []
        event_time = dt.datetime.now(dt.UTC)
        await backends.bus.publish(EVENTS, analytics_event(camera_id, event_time))
        window = (
            event_time - dt.timedelta(seconds=PRE),
            event_time + dt.timedelta(seconds=POST),
        )
        dropped_before = uploader.dropped

        async def window_stored() -> bool:
            rows = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
            return bool(rows) and rows[-1].end_time >= window[1]

        await wait_for(window_stored, within_s=30, what="the event window stored")
        # Recording goes on after the window: those segments are dropped again.
        await wait_for(
            lambda: uploader.dropped > dropped_before, within_s=30, what="drops after the window"
        )
    finally:
        await recorder.stop()
    rows = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
    assert rows[0].start_time <= window[0], "the pre-roll is kept"
    assert rows[-1].end_time >= window[1], "the post-roll is kept"
    for row in rows:
        assert row.start_time < window[1] and window[0] < row.end_time, "outside the window"
    for a, b in itertools.pairwise(rows):
        assert b.start_time == a.end_time, "the window is recorded without gaps"
    left = list((tmp_path / "spool").rglob("*.mp4"))
    for media in left:  # what is still spooled is only what may yet be claimed
        assert int(media.stem) / 1000 > window[1].timestamp() - 2.5
