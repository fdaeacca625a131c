"""Evidence figures: clip export speed, custody append latency, offline log verification
and the package's in-browser verification.

    .venv/bin/python bench/evidence.py [--minutes 2] [--appends 1000] [--entries 100000]
                                       [--browser]

* Clip export: ffmpeg renders `--minutes` of 720p H.264 (15 fps, GOP 30, ~2 Mbit/s,
  the simulator's settings), cut into 4 s fragmented-MP4 segments as ingest stores
  them; the exporter's remux (evidence/remux.py, no transcode) joins them into one MP4
  and SHA-256 hashes it. Speed = media seconds / wall seconds; an hour extrapolates
  linearly (the work is per packet and per byte).
* Custody append: CaseStore.record (one transaction: lock the log row, extend the
  compact range, insert the entry) on embedded SQLite (synchronous=FULL) in a temp dir.
* Log verification: custody.verify_log over N canonical entries (JSON parse, hash
  chain, Merkle root, checkpoint signature), pure Python.
* Browser (--browser): a package of 10 clips verified by its verify.html in headless
  Chromium from file:// (WebCrypto SHA-256 of every file, custody proofs).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import av
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.evidence import custody, merkle, package, remux
from rtcc.evidence.content import sha256_file
from rtcc.evidence.custody_store import Actor
from rtcc.evidence.store import CaseStore

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[1]
SEGMENT_S = 4.0


def render(folder: Path, minutes: float) -> Path:
    source = folder / "source.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=15",
            "-t",
            str(minutes * 60),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            "2M",
            "-g",
            "30",
            "-bf",
            "0",
            "-pix_fmt",
            "yuv420p",
            str(source),
        ],
        check=True,
        timeout=900,
    )
    return source


def cut(source: Path, folder: Path) -> list[remux.Part]:
    """Fragmented-MP4 segments of ~4 s cut at keyframes, like ingest's writer."""
    parts: list[remux.Part] = []
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        out: Any = None
        out_stream: Any = None
        first = 0.0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            seconds = float(packet.pts * packet.time_base)
            if packet.is_keyframe and (out is None or seconds - first >= SEGMENT_S):
                if out is not None:
                    out.close()
                    parts[-1] = remux.Part(
                        parts[-1].start_time, T0 + dt.timedelta(seconds=seconds), parts[-1].path
                    )
                path = folder / f"seg{len(parts):05d}.mp4"
                out = av.open(
                    str(path),
                    "w",
                    format="mp4",
                    options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
                )
                out_stream = out.add_stream_from_template(stream)
                first = seconds
                parts.append(remux.Part(T0 + dt.timedelta(seconds=seconds), T0, path))
            shift = round(first / packet.time_base)
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = out_stream
            out.mux(packet)
        if out is not None:
            out.close()
            last = parts[-1]
            parts[-1] = remux.Part(
                last.start_time, last.start_time + dt.timedelta(seconds=SEGMENT_S), last.path
            )
    return parts


async def bench_export(minutes: float) -> dict[str, float]:
    """The exporter's path: segments fetched from a file object store to disk,
    remuxed, hashed, and stored back (object lock on) as the clip."""
    with tempfile.TemporaryDirectory(prefix="rtcc-bench-") as tmp:
        folder = Path(tmp)
        parts = cut(render(folder, minutes), folder)
        store = open_object_store(f"file://{folder / 'objects'}")
        await store.ensure_bucket("recordings")
        await store.ensure_bucket("evidence", object_lock=True)
        for part in parts:
            await store.put_file("recordings", f"cam/{part.path.name}", part.path)
        work = folder / "work"
        work.mkdir()
        began = time.perf_counter()
        fetched = []
        for part in parts:
            path = work / part.path.name
            await asyncio.to_thread(
                path.write_bytes, await store.get("recordings", f"cam/{part.path.name}")
            )
            fetched.append(remux.Part(part.start_time, part.end_time, path))
        remux_began = time.perf_counter()
        clip = await asyncio.to_thread(
            remux.remux, fetched, T0, parts[-1].end_time, work / "clip.mp4"
        )
        remuxed = time.perf_counter() - remux_began
        size, _ = await asyncio.to_thread(sha256_file, work / "clip.mp4")
        await store.put_file("evidence", "cases/c/items/i/clip.mp4", work / "clip.mp4")
        total = time.perf_counter() - began
        await store.close()
        media = (clip.end_time - clip.start_time).total_seconds()
        return {
            "media_s": media,
            "segments": len(parts),
            "bytes": size,
            "remux_s": remuxed,
            "total_s": total,
            "speed": media / total,
            "hour_s": 3600 / (media / total),
        }


async def bench_append(count: int, url: str = "") -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="rtcc-bench-") as tmp:
        db = await open_database(url or f"sqlite:///{tmp}/rtcc.db")
        await db.migrate()
        cases = CaseStore(db)
        actor = Actor("det.bench", "org_bench")
        row = await cases.create_case(
            {
                "title": "bench",
                "description": "",
                "case_number": None,
                "case_type": "",
                "retention_category": "evidentiary",
                "members": [],
                "linked_alert_ids": [],
                "linked_incident_ids": [],
                "organization_id": "org_bench",
            },
            actor,
            dt.datetime.now(dt.UTC),
        )
        times = []
        for n in range(count):
            began = time.perf_counter()
            await cases.record(
                row.id,
                9,
                actor,
                dt.datetime.now(dt.UTC),
                item_id="itm_x",
                item_sha256="ab" * 32,
                detail=f"viewed {n}",
            )
            times.append(time.perf_counter() - began)
        await db.close()
    times.sort()
    return {
        "count": count,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
        "max_ms": times[-1] * 1000,
    }


def bench_verify(entries: int) -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    lines, previous = [], custody.ZERO_HASH
    compact = merkle.CompactRange()
    for seq in range(1, entries + 1):
        entry = custody.Entry(
            id=f"cus_{seq:08d}",
            case_id="cas_bench",
            sequence=seq,
            action=9,
            actor_subject="det.bench",
            actor_org_id="org_bench",
            time=T0 + dt.timedelta(milliseconds=seq),
            previous_hash=previous,
            item_id="itm_x",
            item_sha256="ab" * 32,
            detail=f"viewed {seq}",
        )
        line = entry.canonical()
        lines.append(line)
        previous = custody.entry_hash(line)
        compact.append(merkle.leaf_hash(line))
    point = custody.Checkpoint("cas_bench", entries, compact.root(), previous, T0).signed(key)
    began = time.perf_counter()
    report = custody.verify_log(lines, point, key.public_key())
    elapsed = time.perf_counter() - began
    assert report.valid, report.problems
    return {"entries": entries, "seconds": elapsed}


async def bench_browser(minutes: float) -> dict[str, float]:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="rtcc-bench-") as tmp:
        folder = Path(tmp)
        parts = cut(render(folder, minutes), folder)
        clip = folder / "clip.mp4"
        remux.remux(parts, T0, parts[-1].end_time, clip)
        key = Ed25519PrivateKey.generate()
        entry = custody.Entry("cus_1", "cas_b", 1, 1, "det", "org", T0, custody.ZERO_HASH)
        line = entry.canonical()
        point = custody.Checkpoint(
            "cas_b", 1, merkle.leaf_hash(line), custody.entry_hash(line), T0
        ).signed(key)
        files = [
            package.PackageFile(f"items/itm_{n}/clip.mp4", f"itm_{n}", "video/mp4", clip)
            for n in range(10)
        ]
        out = folder / "package.zip"
        package.build(
            out,
            case={"id": "cas_b", "title": "bench"},
            items=[],
            files=files,
            entries=[line],
            checkpoint=point,
            key=key,
            purpose="bench",
            created=T0.isoformat(),
        )
        unzipped = folder / "unzipped"
        with zipfile.ZipFile(out) as archive:
            archive.extractall(unzipped)
        total = sum(p.stat().st_size for p in unzipped.rglob("*") if p.is_file())
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
            )
            page = await browser.new_page()
            await page.goto((unzipped / "verify.html").as_uri())
            began = time.perf_counter()
            await page.set_input_files("#folder", str(unzipped))
            await page.wait_for_function(
                "() => document.getElementById('result').className === 'ok'", timeout=60000
            )
            elapsed = time.perf_counter() - began
            inner = float(await page.get_attribute("#result", "data-seconds") or 0)
            await browser.close()
        return {"files": 11, "bytes": total, "seconds": elapsed, "page_seconds": inner}


async def _append_on_postgres(count: int) -> dict[str, float]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "rtcc_infra_servers", ROOT / "infra" / "servers.py"
    )
    assert spec is not None and spec.loader is not None
    servers = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = servers
    spec.loader.exec_module(servers)
    server = servers.start("postgres")
    try:
        return await bench_append(count, server.url)
    finally:
        server.stop()


def _latency(label: str, figures: dict[str, float]) -> tuple[str, str, str]:
    value = (
        f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, "
        f"max {figures['max_ms']:.1f} ms"
    )
    return (f"custody append ({figures['count']:.0f}, {label})", value, "p99 < 10 ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--browser", action="store_true")
    parser.add_argument(
        "--postgres", action="store_true", help="also time appends on a private PostgreSQL"
    )
    args = parser.parse_args()
    export = asyncio.run(bench_export(args.minutes))
    rows = [
        (
            f"clip export, {export['media_s']:.0f} s of 720p in {export['segments']:.0f} "
            f"segments ({export['bytes'] / 1e6:.1f} MB): fetch from the file object store, "
            "remux, SHA-256, store",
            f"{export['total_s']:.2f} s = {export['speed']:.0f}x real time "
            f"(remux alone {export['remux_s']:.2f} s)",
            ">= 100x",
        ),
        ("clip export, one hour of 720p (extrapolated)", f"{export['hour_s']:.1f} s", "< 36 s"),
        _latency("SQLite, synchronous=FULL", asyncio.run(bench_append(args.appends))),
    ]
    if args.postgres:
        rows.append(_latency("PostgreSQL", asyncio.run(_append_on_postgres(args.appends))))
    verify = bench_verify(args.entries)
    rows.append(
        (
            f"verify a {verify['entries']:.0f}-entry custody log offline",
            f"{verify['seconds']:.2f} s",
            "< 2 s",
        )
    )
    if args.browser:
        browser = asyncio.run(bench_browser(args.minutes / 2))
        rows.append(
            (
                f"10-clip package ({browser['bytes'] / 1e6:.0f} MB) verified in Chromium",
                f"{browser['seconds']:.2f} s (page clock {browser['page_seconds']:.2f} s)",
                "< 5 s",
            )
        )
    print("| figure | value | goal |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
