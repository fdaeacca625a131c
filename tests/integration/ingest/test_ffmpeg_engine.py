"""The ffmpeg recording engine: a native child per camera stream, followed per fragment."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import itertools
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import av
import pytest

from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.ingest import ffmpeg_engine
from rtcc.ingest.fanout import LivePacket, TrackInfo
from rtcc.ingest.ffmpeg_engine import TIMESCALE, FfmpegSession
from rtcc.ingest.fmp4 import FragmentReader, to_annexb
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.recovery import recover_partials
from rtcc.ingest.segment import MAIN
from rtcc.ingest.session import CameraSession, CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
FFMPEG = SessionSettings(segment_s=2.0, engine="ffmpeg", backoff_initial_s=0.2, backoff_max_s=1.0)


async def _embedded(tmp_path: Path) -> tuple[Any, Any, Any, SegmentIndex]:
    db = await open_database(f"sqlite:///{tmp_path / 'rtcc.db'}")
    await db.migrate()
    objects = open_object_store(f"file://{tmp_path / 'objects'}")
    bus = await open_bus("memory://")
    return db, objects, bus, SegmentIndex(db)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _argv(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def test_fragment_reader_reads_what_ffmpeg_writes_sample_for_sample(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
         "-t", "3", "-c:v", "libx264", "-g", "15", "-bf", "0", str(source)],
        check=True,
    )  # fmt: skip
    target = tmp_path / "out.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-c", "copy", "-movflags",
         "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "250000",
         "-video_track_timescale", str(TIMESCALE), str(target)],
        check=True,
    )  # fmt: skip
    reader = FragmentReader(str(target))
    fragments = reader.poll(want_data=True)
    assert reader.track is not None
    assert (reader.track.codec, reader.track.width, reader.track.height) == ("h264", 320, 240)
    assert reader.track.timescale == TIMESCALE
    samples = [(s, body, at) for f, body, at in fragments for s in f.samples]
    assert len(samples) == reader.frames == 45
    with av.open(str(target)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert [s.dts for s, _, _ in samples] == [p.dts for p in packets]
    assert [s.keyframe for s, _, _ in samples] == [p.is_keyframe for p in packets]
    assert [s.size for s, _, _ in samples] == [p.size for p in packets]
    # Nobody watching: each fragment counted, the same totals, no sample and no data read.
    counted = FragmentReader(str(target))
    totals = counted.poll(want_data=False)
    assert [(f.count, f.size, f.start, f.end) for f, _, _ in totals] == [
        (len(f.samples), sum(s.size for s in f.samples), f.samples[0].dts, f.end)
        for f, _, _ in fragments
    ]
    assert all(not f.samples and body is None for f, body, _ in totals)
    assert (counted.frames, counted.bytes, counted.end) == (reader.frames, reader.bytes, reader.end)
    # The samples as Annex B, with the track's parameter sets, decode to every picture.
    decoder = av.CodecContext.create("h264", "r")
    decoder.extradata = reader.track.extradata
    decoded = 0
    for sample, body, at in samples:
        assert body is not None
        data = to_annexb(body[sample.offset - at : sample.offset - at + sample.size], 4)
        decoded += len(decoder.decode(av.Packet(data)))
    decoded += len(decoder.decode(None))
    assert decoded == 45


def test_fragment_reader_waits_for_a_fragment_being_written(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
         "-t", "2", "-c:v", "libx264", "-g", "15", "-bf", "0", "-movflags",
         "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "250000", str(whole)],
        check=True,
    )  # fmt: skip
    data = whole.read_bytes()
    growing = tmp_path / "growing.mp4"
    growing.write_bytes(data[: len(data) // 2])
    reader = FragmentReader(str(growing))
    first = reader.poll(want_data=False)
    growing.write_bytes(data)
    rest = reader.poll(want_data=False)
    assert first and rest
    assert reader.frames == sum(f.count for f, _, _ in first + rest) == 30


async def test_ffmpeg_engine_records_tiling_segments_and_leaves_no_child(
    simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    db, objects, bus, index = await _embedded(tmp_path)
    recorder = Recorder(Spool(tmp_path / "spool"), objects, index, bus, settings=FFMPEG)
    camera_id = f"cam_{uuid.uuid4().hex[:8]}"
    await recorder.start()
    await recorder.ensure([CameraSource(camera_id, simulator.cameras[0].main_url)])
    session = recorder.sessions[(camera_id, MAIN)]
    assert isinstance(session, FfmpegSession)
    try:

        async def three() -> bool:
            return len(await index.overlapping(camera_id, MAIN, EPOCH, FAR)) >= 3

        await wait_for(three, within_s=30, what="three indexed segments")
        pid = session.child_pid
        assert pid is not None and _alive(pid)
        health = session.health()
        assert health.recording and health.packets > 0 and health.fps > 0
    finally:
        await asyncio.wait_for(recorder.stop(), 30)
    assert not _alive(pid), "the ffmpeg child must end with the session"
    segments = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
    assert segments[0].discontinuity
    for a, b in itertools.pairwise(segments):
        assert b.start_time == a.end_time and not b.discontinuity
    for seg in segments:
        data = await objects.get("recordings", seg.object_key)
        assert hashlib.sha256(data).hexdigest() == seg.sha256
        assert (seg.video_codec, seg.width, seg.height) == ("h264", 1280, 720)
        assert abs(seg.frame_rate - 15) < 1
    assert not list((tmp_path / "spool").glob("*/*/*.part*")), "nothing left in progress"
    await bus.close()
    await objects.close()
    await db.close()


async def test_a_new_viewer_and_a_stop_wake_an_idle_session_at_once(
    simulator: Any, tmp_path: Path, wait_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While nobody watches, the session looks at its camera every IDLE_POLL_S; a viewer
    or a stop must not wait for that. With the idle look a minute apart, a viewer still
    gets its first keyframe, and stop() ends the child, within seconds. (Segments of
    60 s: the child's line at each segment's close wakes the session too.)"""
    monkeypatch.setattr(ffmpeg_engine, "IDLE_POLL_S", 60.0)
    loop = asyncio.get_running_loop()
    session = FfmpegSession(
        CameraSource("c", simulator.cameras[2].main_url), Spool(tmp_path / "spool"), loop,
        settings=dataclasses.replace(FFMPEG, segment_s=60.0),
    )  # fmt: skip
    session.start()
    try:
        await wait_for(lambda: session.health().packets > 0, within_s=30, what="connected")
        pid = session.child_pid
        sub = session.packets.subscribe(from_last_keyframe=True)
        keyframe = None
        async with asyncio.timeout(15):  # a GOP is 2 s; the idle look is 60 s away
            async for item in sub:
                if isinstance(item, LivePacket) and item.keyframe:
                    keyframe = item
                    break
        assert keyframe is not None and keyframe.data
    finally:
        async with asyncio.timeout(15):
            await session.stop()
    assert pid is not None and not _alive(pid), "stop ends the child without the idle look"


async def test_live_packets_and_frames_agree_with_the_pyav_engine_on_the_same_camera(
    simulator: Any, tmp_path: Path
) -> None:
    """Both engines on one shared camera: the same pictures, the same capture times
    within 0.3 s (0.07 s apart at load 20, 0.17 s at load 66: each engine's anchor is
    an arrival time seen by a process, which a loaded machine delays).

    The simulator loops its clip, so a keyframe's bytes come back every loop: each of
    the ffmpeg engine's keyframes is paired with the nearest identical one of PyAV's."""
    loop = asyncio.get_running_loop()
    spool = Spool(tmp_path / "spool")
    url = simulator.cameras[1].main_url
    pyav = CameraSession(
        CameraSource("a", url, record=False), spool, loop, settings=SessionSettings()
    )
    native = FfmpegSession(CameraSource("b", url), spool, loop, settings=FFMPEG)
    subs = [s.packets.subscribe(from_last_keyframe=False) for s in (pyav, native)]
    frames = native.frames.subscribe(5, 320, 1)
    seen: list[list[tuple[str, dt.datetime]]] = [[], []]
    tracks: list[TrackInfo] = []
    first_items: list[Any] = []

    async def take(i: int) -> None:
        async for item in subs[i]:
            if i == 1 and len(first_items) < 2:
                first_items.append(item)
            if isinstance(item, TrackInfo):
                tracks.append(item) if i == 1 else None
            elif isinstance(item, LivePacket) and item.keyframe:
                seen[i].append((hashlib.sha256(item.data).hexdigest(), item.capture_time))

    tasks = [asyncio.create_task(take(0)), asyncio.create_task(take(1))]
    pyav.start()
    native.start()
    got = []
    try:
        async with asyncio.timeout(30):
            async for frame in frames:
                got.append(frame)
                if len(got) >= 10 and len(seen[1]) >= 5:
                    break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(pyav.stop(), native.stop())
    assert isinstance(first_items[0], TrackInfo) and first_items[1].keyframe
    assert tracks[0].codec == "h264" and tracks[0].time_base == (1, TIMESCALE)
    assert (got[0].width, got[0].height) == (320, 180)
    offsets = []
    for digest, when in seen[1]:
        pairs = [(when - other).total_seconds() for d, other in seen[0] if d == digest]
        assert pairs, "the same keyframes reach both engines"
        offsets.append(min(pairs, key=abs))
    # The first keyframe goes out while the first segment's start is still refined.
    settled = sorted(offsets[1:])
    median = settled[len(settled) // 2]
    assert abs(median) < 0.3, f"capture times differ by {median:.3f} s: {offsets}"
    assert settled[-1] - settled[0] < 0.02, f"one anchor per connection: {offsets}"


async def test_a_killed_child_is_restarted_and_its_segment_kept(
    simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    db, objects, bus, index = await _embedded(tmp_path)
    recorder = Recorder(Spool(tmp_path / "spool"), objects, index, bus, settings=FFMPEG)
    camera_id = f"cam_{uuid.uuid4().hex[:8]}"
    await recorder.start()
    await recorder.ensure([CameraSource(camera_id, simulator.cameras[2].main_url)])
    session = recorder.sessions[(camera_id, MAIN)]
    assert isinstance(session, FfmpegSession)
    try:

        async def segments(n: int) -> bool:
            return len(await index.overlapping(camera_id, MAIN, EPOCH, FAR)) >= n

        await wait_for(lambda: segments(2), within_s=30, what="two segments")
        first_pid = session.child_pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        await wait_for(
            lambda: session.child_pid not in (None, first_pid), within_s=20, what="a new child"
        )
        before = len(await index.overlapping(camera_id, MAIN, EPOCH, FAR))
        await wait_for(lambda: segments(before + 2), within_s=30, what="recording again")
        assert session.health().reconnect_count >= 1
    finally:
        await asyncio.wait_for(recorder.stop(), 30)
    rows = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
    gaps = [seg for seg in rows[1:] if seg.discontinuity]
    assert gaps, "the reconnect starts a segment marked as following a gap"
    for a, b in itertools.pairwise(rows):
        assert b.start_time >= a.end_time - dt.timedelta(milliseconds=1)
    await bus.close()
    await objects.close()
    await db.close()


async def test_a_segment_left_by_a_killed_process_is_recovered(
    simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    """The child's file in progress carries its description, like the PyAV writer's."""
    spool = Spool(tmp_path / "spool")
    loop = asyncio.get_running_loop()
    settings = SessionSettings(segment_s=30.0, engine="ffmpeg")
    session = FfmpegSession(CameraSource("cam_x", simulator.cameras[0].main_url), spool, loop,
                            settings=settings)  # fmt: skip
    session.start()
    folder = spool.stream_dir("cam_x", MAIN)
    try:
        await wait_for(
            lambda: any(p.stat().st_size > 300_000 for p in folder.glob("*.part")),
            within_s=30,
            what="a segment in progress",
        )
        parts = list(folder.glob("*.part"))
        # A process killed now leaves this file (and its description) behind: copy them.
        saved = tmp_path / "crash"
        crashed = Spool(saved)
        target = crashed.stream_dir("cam_x", MAIN)
        for path in [*parts, *folder.glob("*.part-meta")]:
            (target / path.name).write_bytes(path.read_bytes())
    finally:
        await session.stop()
    found = recover_partials(crashed)
    assert len(found.recovered) == 1 and found.discarded == 0
    seg = found.recovered[0]
    assert seg.camera_id == "cam_x" and seg.frames > 0
    assert abs((seg.start_time - dt.datetime.now(dt.UTC)).total_seconds()) < 60


async def test_url_hint_has_the_child_pull_over_udp(
    simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    db, objects, bus, index = await _embedded(tmp_path)
    recorder = Recorder(Spool(tmp_path / "spool"), objects, index, bus, settings=FFMPEG)
    camera_id = f"cam_{uuid.uuid4().hex[:8]}"
    await recorder.start()
    url = simulator.cameras[1].main_url + "?transport=udp"
    await recorder.ensure([CameraSource(camera_id, url)])
    session = recorder.sessions[(camera_id, MAIN)]
    try:

        async def recorded() -> bool:
            return len(await index.overlapping(camera_id, MAIN, EPOCH, FAR)) >= 2

        await wait_for(recorded, within_s=30, what="segments recorded over UDP")
        assert session.transport == "udp"
        pid = getattr(session, "child_pid", None)
        assert pid is not None
        argv = _argv(pid)
        assert argv[argv.index(b"-rtsp_transport") + 1] == b"udp"
        assert b"transport=udp" not in b" ".join(argv), "our hint is not sent to the camera"
        assert session.health().last_error == ""
    finally:
        await asyncio.wait_for(recorder.stop(), 30)
        await bus.close()
        await objects.close()
        await db.close()


async def test_a_full_spool_drops_closed_segments_and_says_so(
    simulator: Any, tmp_path: Path, wait_for: Any
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1)  # anything in it is too much
    loop = asyncio.get_running_loop()
    session = FfmpegSession(
        CameraSource("cam_full", simulator.cameras[0].main_url), spool, loop, settings=FFMPEG
    )
    session.start()
    try:
        await wait_for(
            lambda: "spool is full" in session.health().last_error,
            within_s=30,
            what="the recording failure reported",
        )
        assert not session.health().recording
        assert session.health().packets > 0, "the camera is still read (live, health)"
    finally:
        await session.stop()
    assert spool.pending() == [], "nothing spooled"
    assert not list((tmp_path / "spool").glob("*/*/*.mp4*")), "dropped files are removed"
