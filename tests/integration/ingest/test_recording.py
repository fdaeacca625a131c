"""Recording a real RTSP camera into object storage, the index and the bus."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from rtcc.backends.bus import EventBus
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import BUCKET, MAIN
from rtcc.ingest.session import CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex, StoredSegment
from rtcc.ingest.uploader import SUBJECT

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
FPS = 15


def probe(path: Path) -> tuple[float, int]:
    """(duration in seconds, decoded video frames) as ffprobe sees the file."""
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=nb_read_frames:format=duration", "-of", "json", str(path),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(out.stdout)
    return float(data["format"]["duration"]), int(data["streams"][0]["nb_read_frames"])


async def collect_events(bus: EventBus, subscription: Any, want: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(20):
        async for message in subscription:
            events.append(json.loads(message.data))
            await message.ack()
            if len(events) >= want:
                break
    return events


async def record(
    backends: Any, tmp_path: Path, url: str, wait_for: Any, segments: int, engine: str = "pyav"
) -> tuple[str, list[StoredSegment]]:
    index = SegmentIndex(backends.db)
    recorder = Recorder(
        Spool(tmp_path / "spool"),
        backends.objects,
        index,
        backends.bus,
        settings=SessionSettings(segment_s=2.0, engine=engine),
    )
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    await recorder.start()
    await recorder.ensure([CameraSource(camera_id, url, retention_days=7)])

    async def enough() -> bool:
        return len(await index.overlapping(camera_id, MAIN, EPOCH, FAR)) >= segments

    try:
        await wait_for(enough, within_s=40, what=f"{segments} indexed segments")
    finally:
        await recorder.stop()
    return camera_id, await index.overlapping(camera_id, MAIN, EPOCH, FAR)


@pytest.mark.parametrize("engine", ["pyav", "ffmpeg"])
async def test_recording_tiles_time_without_gaps_and_every_second_decodes(
    simulator: Any, backends: Any, tmp_path: Path, wait_for: Any, engine: str
) -> None:
    subscription = await backends.bus.subscribe(
        SUBJECT, durable=f"t{uuid.uuid4().hex[:8]}", queue=False
    )
    camera_id, segments = await record(
        backends, tmp_path, simulator.cameras[0].main_url, wait_for, segments=5, engine=engine
    )
    assert len(segments) >= 5
    for a, b in itertools.pairwise(segments):
        assert b.start_time == a.end_time, "consecutive segments must tile time"
        assert not b.discontinuity
    covered = 0.0
    for seg in segments:
        data = await backends.objects.get(BUCKET, seg.object_key)
        assert hashlib.sha256(data).hexdigest() == seg.sha256
        assert len(data) == seg.size_bytes
        assert seg.object_key.startswith(f"{camera_id}/{seg.start_time:%Y/%m/%d/%H}/")
        path = tmp_path / f"{seg.id}.mp4"
        path.write_bytes(data)
        duration, frames = probe(path)
        span = (seg.end_time - seg.start_time).total_seconds()
        # Every frame of the wall-clock span is in the file, decodable.
        assert abs(duration - span) <= 1.5 / FPS, (duration, span)
        assert abs(frames - span * FPS) <= 1.5, (frames, span)
        # Cut at the first keyframe at or past 2 s (GOP 2 s): a keyframe missed by the
        # cut would make this segment a GOP longer.
        assert span <= 2.0 + 0.5, (span, "a keyframe was missed by the cut")
        covered += duration
        assert seg.expire_time == seg.start_time + dt.timedelta(days=7)
    total = (segments[-1].end_time - segments[0].start_time).total_seconds()
    assert abs(covered - total) <= len(segments) / FPS
    events = await collect_events(backends.bus, subscription, len(segments))
    await subscription.close()
    assert {e["segment_id"] for e in events} >= {s.id for s in segments}
