"""Recording cost: our recorder vs `ffmpeg -c copy -f segment`, on the same RTSP streams.

    .venv/bin/python bench/ingest_recording.py --streams 8 --seconds 30

Starts N simulated 720p cameras (H.264, 15 fps, ~2 Mbit/s, GOP 30), records them for
the given time with our recorder (remux into fMP4 segments, spool, object store,
index, bus; embedded backends), with the ffmpeg recording engine (an ffmpeg child per
stream writes the segments, the same spool/store/index/bus after it; the children's
CPU is counted) and then with one plain ffmpeg process per stream, and prints
per-stream CPU and memory, streams per core, segment close-to-stored latency and
packets lost. They run one after the other on the same simulator.

`--side-by-side` then runs our recorder (the ffmpeg engine, full pipeline) and the
plain ffmpeg processes *at the same time* on the same cameras, and measures both over
the same windows (`--windows` of `--seconds` each): this VM's speed drifts by tens of
percent from one minute to the next, which rows measured a minute apart cannot tell
from a change in our code. It prints each window's ratio and their median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.core.config import DEFAULT_SEGMENT_SECONDS
from rtcc.ingest.ffmpeg_engine import FfmpegSession
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import MAIN
from rtcc.ingest.session import CameraSession, CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex
from rtcc.sim.simulator import Simulator

TICK = os.sysconf("SC_CLK_TCK")
FPS = 15
WARMUP_S = 4.0


@dataclass
class Result:
    name: str
    streams: int
    cpu_pct_per_stream: float
    rss_mib_per_stream: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    packets_expected: int
    packets_recorded: int

    @property
    def streams_per_core(self) -> float:
        return 100.0 / self.cpu_pct_per_stream if self.cpu_pct_per_stream else float("inf")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children(recorder: Recorder) -> list[int]:
    """The ffmpeg children of the ffmpeg engine's sessions (none for PyAV)."""
    pids = [getattr(s, "child_pid", None) for s in recorder.sessions.values()]
    return [pid for pid in pids if pid]


def _cpu_children(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += _proc_cpu(pid)
        except OSError:
            pass  # exited (a reconnect): its CPU is lost from this count
    return total


async def bench_ours(
    urls: list[str], seconds: float, segment_s: float, work: Path, engine: str = "pyav"
) -> Result:
    db = await open_database(f"sqlite:///{work / 'rtcc.db'}")
    await db.migrate()
    objects = open_object_store(f"file://{work / 'objects'}")
    bus = await open_bus("memory://")
    index = SegmentIndex(db)
    settings = SessionSettings(segment_s=segment_s, engine=engine)
    recorder = Recorder(Spool(work / "spool"), objects, index, bus, settings=settings)
    rss0 = _rss_mib()
    await recorder.start()
    await recorder.ensure([CameraSource(f"cam_{i}", url) for i, url in enumerate(urls)])
    await asyncio.sleep(WARMUP_S)  # a benchmark's measuring window, not synchronisation
    pids = _children(recorder)
    cpu0, t0 = _cpu_self() + _cpu_children(pids), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = _cpu_self() + _cpu_children(pids), time.monotonic()
    rss1 = _rss_mib() + sum(_proc_rss(pid) for pid in _children(recorder))
    await recorder.stop()
    latencies = sorted(recorder.uploader.latencies)
    expected = recorded = 0
    import datetime as dt

    lo, hi = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    for i in range(len(urls)):
        for seg in await index.overlapping(f"cam_{i}", MAIN, lo, hi):
            expected += round((seg.end_time - seg.start_time).total_seconds() * FPS)
            recorded += round(seg.frame_rate * (seg.end_time - seg.start_time).total_seconds())
    await bus.close()
    await objects.close()
    await db.close()
    n = len(urls)
    return Result(
        "rtcc recorder" if engine == "pyav" else "rtcc ffmpeg engine",
        n,
        100.0 * (cpu1 - cpu0) / (t1 - t0) / n,
        (rss1 - rss0) / n,
        _pct(latencies, 50),
        _pct(latencies, 95),
        expected,
        recorded,
    )


async def bench_remux_only(
    urls: list[str], seconds: float, segment_s: float, work: Path, engine: str = "pyav"
) -> Result:
    """Our sessions writing segments into the spool, with nothing uploaded: the part
    that does what `ffmpeg -f segment` does."""
    loop = asyncio.get_running_loop()
    spool = Spool(work / "spool")
    settings = SessionSettings(segment_s=segment_s, engine=engine)
    kind = FfmpegSession if engine == "ffmpeg" else CameraSession
    sessions = [
        kind(CameraSource(f"cam_{i}", url), spool, loop, settings=settings)
        for i, url in enumerate(urls)
    ]
    rss0 = _rss_mib()
    for session in sessions:
        session.start()
    await asyncio.sleep(WARMUP_S)  # a benchmark's measuring window, not synchronisation
    pids = [pid for s in sessions if (pid := getattr(s, "child_pid", None))]
    cpu0, t0 = _cpu_self() + _cpu_children(pids), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = _cpu_self() + _cpu_children(pids), time.monotonic()
    rss1 = _rss_mib() + sum(_proc_rss(pid) for pid in pids)
    await asyncio.gather(*(s.stop() for s in sessions))
    expected = recorded = 0
    for item in spool.pending():
        seg = item.segment
        expected += round((seg.end_time - seg.start_time).total_seconds() * FPS)
        recorded += seg.frames
    n = len(urls)
    return Result(
        "rtcc remux only (no upload)" if engine == "pyav" else "ffmpeg engine, spool only",
        n,
        100.0 * (cpu1 - cpu0) / (t1 - t0) / n,
        (rss1 - rss0) / n,
        None,
        None,
        expected,
        recorded,
    )


def _pct(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _proc_rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def bench_ffmpeg(urls: list[str], seconds: float, segment_s: float, work: Path) -> Result:
    procs = await _start_ffmpeg(urls, segment_s, work)
    await asyncio.sleep(WARMUP_S)  # the same warm-up window as ours
    cpu0 = sum(_proc_cpu(p.pid) for p in procs)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = sum(_proc_cpu(p.pid) for p in procs), time.monotonic()
    rss = sum(_proc_rss(p.pid) for p in procs)
    for p in procs:
        p.terminate()
    await asyncio.gather(*(p.wait() for p in procs))
    expected = recorded = 0
    for i in range(len(urls)):
        for path in sorted((work / f"ff{i}").glob("*.mp4")):
            duration, packets = _probe(path)
            expected += round(duration * FPS)
            recorded += packets
    n = len(urls)
    return Result(
        "ffmpeg -c copy -f segment",
        n,
        100.0 * (cpu1 - cpu0) / (t1 - t0) / n,
        rss / n,
        None,
        None,
        expected,
        recorded,
    )


async def _start_ffmpeg(urls: list[str], segment_s: float, work: Path) -> list[Any]:
    procs = []
    for i, url in enumerate(urls):
        out = work / f"ff{i}"
        out.mkdir()
        cmd = [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
            "-c", "copy", "-f", "segment", "-segment_time", str(segment_s),
            "-reset_timestamps", "1", str(out / "%05d.mp4"),
        ]  # fmt: skip
        procs.append(await asyncio.create_subprocess_exec(*cmd))
    return procs


async def bench_side_by_side(
    urls: list[str], seconds: float, windows: int, segment_s: float, work: Path
) -> list[tuple[float, float, float]]:
    """(ours, of which Python, ffmpeg) CPU %/stream per window, both running at once."""
    db = await open_database(f"sqlite:///{work / 'rtcc.db'}")
    await db.migrate()
    objects = open_object_store(f"file://{work / 'objects'}")
    bus = await open_bus("memory://")
    settings = SessionSettings(segment_s=segment_s, engine="ffmpeg")
    index = SegmentIndex(db)
    recorder = Recorder(Spool(work / "spool"), objects, index, bus, settings=settings)
    await recorder.start()
    await recorder.ensure([CameraSource(f"cam_{i}", url) for i, url in enumerate(urls)])
    procs = await _start_ffmpeg(urls, segment_s, work)
    n = len(urls)
    rows = []
    try:
        await asyncio.sleep(WARMUP_S)  # a benchmark's measuring window, not synchronisation
        for _ in range(windows):
            pids = _children(recorder)
            ours0, kids0 = _cpu_self(), _cpu_children(pids)
            ref0, t0 = sum(_proc_cpu(p.pid) for p in procs), time.monotonic()
            await asyncio.sleep(seconds)
            ours1, kids1 = _cpu_self(), _cpu_children(pids)
            ref1, t1 = sum(_proc_cpu(p.pid) for p in procs), time.monotonic()
            scale = 100.0 / (t1 - t0) / n
            python = (ours1 - ours0) * scale
            rows.append((python + (kids1 - kids0) * scale, python, (ref1 - ref0) * scale))
    finally:
        for p in procs:
            p.terminate()
        await asyncio.gather(*(p.wait() for p in procs))
        await recorder.stop()
        await bus.close()
        await objects.close()
        await db.close()
    return rows


def print_side_by_side(
    rows: list[tuple[float, float, float]], seconds: float, segment_s: float
) -> None:
    print(
        f"\nside by side, the same {seconds:.0f} s windows, {segment_s:g} s segments "
        "(CPU %/stream):"
    )
    print(f"{'window':>6} {'rtcc ffmpeg engine':>18} {'of which Python':>15} {'ffmpeg':>7} ratio")
    for i, (ours, python, ref) in enumerate(rows, 1):
        print(f"{i:>6} {ours:>18.3f} {python:>15.3f} {ref:>7.3f} {ours / ref:>5.2f}x")
    ratio = statistics.median(ours / ref for ours, _python, ref in rows)
    print(f"median ratio, rtcc ffmpeg engine / ffmpeg: {ratio:.2f}x")


def _probe(path: Path) -> tuple[float, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_packets:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        data = json.loads(out.stdout)
        return float(data["format"]["duration"]), int(data["streams"][0]["nb_read_packets"])
    except (KeyError, ValueError, IndexError):
        return 0.0, 0


def print_table(results: list[Result], seconds: float, segment_s: float) -> None:
    print(
        f"\ningest recording benchmark: 1280x720 H.264 15 fps ~2 Mbit/s, {seconds:.0f} s "
        f"window, {segment_s:g} s segments"
    )
    header = (
        f"{'recorder':<28} {'streams':>7} {'CPU%/stream':>11} {'RSS MiB/stream':>14} "
        f"{'streams/core':>12} {'stored p50 ms':>13} {'stored p95 ms':>13} {'lost pkts':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        p50 = f"{r.latency_p50_ms:.0f}" if r.latency_p50_ms is not None else "n/a"
        p95 = f"{r.latency_p95_ms:.0f}" if r.latency_p95_ms is not None else "n/a"
        lost = max(r.packets_expected - r.packets_recorded, 0)
        print(
            f"{r.name:<28} {r.streams:>7} {r.cpu_pct_per_stream:>11.2f} "
            f"{r.rss_mib_per_stream:>14.1f} {r.streams_per_core:>12.0f} {p50:>13} {p95:>13} "
            f"{lost:>9}"
        )
    reference = results[-1].cpu_pct_per_stream
    if reference:
        print()
        for r in results[:-1]:
            print(f"CPU per stream, {r.name} / ffmpeg: {r.cpu_pct_per_stream / reference:.2f}x")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--segment-seconds",
        type=float,
        default=DEFAULT_SEGMENT_SECONDS,
        help="segment length of both recorders (default: the product's, ingest.segment_seconds)",
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("var/sim"))
    parser.add_argument(
        "--side-by-side", action="store_true", help="only the same-window comparison"
    )
    parser.add_argument("--windows", type=int, default=5)
    args = parser.parse_args(argv)
    if args.side_by_side:
        async with Simulator(args.streams, args.cache_dir, variants=1) as sim:
            urls = [cam.main_url for cam in sim.cameras]
            with tempfile.TemporaryDirectory(prefix="rtcc-bench-") as folder:
                rows = await bench_side_by_side(
                    urls, args.seconds, args.windows, args.segment_seconds, Path(folder)
                )
        print_side_by_side(rows, args.seconds, args.segment_seconds)
        return 0
    async with Simulator(args.streams, args.cache_dir, variants=1) as sim:
        urls = [cam.main_url for cam in sim.cameras]
        with tempfile.TemporaryDirectory(prefix="rtcc-bench-") as folder:
            work = Path(folder)
            (work / "ours").mkdir()
            (work / "ffmpeg").mkdir()
            (work / "remux").mkdir()
            (work / "engine").mkdir()
            seg = args.segment_seconds
            ours = await bench_ours(urls, args.seconds, seg, work / "ours")
            remux = await bench_remux_only(urls, args.seconds, seg, work / "remux")
            (work / "engine-spool").mkdir()
            engine = await bench_ours(urls, args.seconds, seg, work / "engine", "ffmpeg")
            spooled = await bench_remux_only(
                urls, args.seconds, seg, work / "engine-spool", "ffmpeg"
            )
            ref = await bench_ffmpeg(urls, args.seconds, seg, work / "ffmpeg")
    print_table([ours, remux, engine, spooled, ref], args.seconds, args.segment_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
