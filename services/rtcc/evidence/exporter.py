"""The clip export worker: claims export jobs, remuxes the recorded segments into one
MP4 per clip, hashes and stores it under object lock, and marks the item ready.

Segments come from ingest's index (``ListSegments`` through the shared ingest client)
and their objects straight from the recordings bucket. A job's progress (segments
fetched, then the remux and the upload) is written as it goes and renews the job's
lease; a worker that dies leaves a job whose lease runs out, and any replica's worker
takes it up again from the start (the partial file is thrown away). A cancelled job is
noticed at the next progress report. At most ``export_workers`` jobs run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import queue
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.engine import Row

from rtcc.backends.objectstore import ObjectStore
from rtcc.clients import IngestClient
from rtcc.common import time as wire_time
from rtcc.core.errors import NotFound, RtccError
from rtcc.evidence import jobs, remux, store
from rtcc.evidence.content import RECORDINGS_BUCKET, Content
from rtcc.evidence.custody_store import Actor

log = structlog.get_logger("rtcc.evidence.exporter")
POLL_S = 2.0
QUEUE = 4  # segments fetched ahead of the remux


class Cancelled(Exception):
    """The job was cancelled while running."""


async def recorded_spans(
    ingest: IngestClient, camera_id: str, start: dt.datetime, end: dt.datetime
) -> list[Any]:
    """Every segment of the camera's main stream overlapping [start, end), in order."""
    found: list[Any] = []
    token = ""
    while True:
        page = await ingest.list_segments(camera_id, start, end, page_token=token, page_size=1000)
        found.extend(page.segments)
        token = page.next_page_token
        if not token:
            return found


class ExportWorker:
    def __init__(
        self,
        job_store: jobs.JobStore,
        cases: store.CaseStore,
        content: Content,
        objects: ObjectStore,
        ingest: IngestClient,
        work_dir: Path,
        *,
        workers: int,
    ) -> None:
        self.jobs, self.cases, self.content = job_store, cases, content
        self.objects, self.ingest, self.work_dir = objects, ingest, work_dir
        self.wake = asyncio.Event()
        self._slots = asyncio.Semaphore(workers)
        self._running: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop`; an unexpected error is logged, not fatal."""
        try:
            while not stop.is_set():
                try:
                    await self._claim_some()
                except Exception:  # a bug or an outage must not end the loop
                    log.exception("export_claim_failed")
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), POLL_S)
                except TimeoutError:
                    pass
        finally:
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _claim_some(self) -> None:
        while not self._slots.locked():
            job = await self.jobs.claim(dt.datetime.now(dt.UTC))
            if job is None:
                return
            await self._slots.acquire()
            task = asyncio.create_task(self._run_one(job), name=f"export-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run_one(self, job: Row[Any]) -> None:
        try:
            await self.export(job)
        except Cancelled:
            log.info("export_cancelled", job_id=job.id)
        except RtccError as exc:
            await self._fail(job, str(exc))
        except Exception as exc:
            log.exception("export_crashed", job_id=job.id)
            await self._fail(job, f"the export failed unexpectedly ({type(exc).__name__})")
        finally:
            self._slots.release()
            self.wake.set()

    async def _fail(self, job: Row[Any], error: str) -> None:
        now = dt.datetime.now(dt.UTC)
        if await self.jobs.finish(job.id, jobs.FAILED, now, error=error):
            actor = Actor(job.creator_subject, job.creator_org_id)
            await self.cases.finish_item(job.item_id, {"state": store.FAILED}, actor, now, "")
        log.warning("export_failed", job_id=job.id, error=error)

    async def _report(self, job: Row[Any], progress: float, written: int) -> None:
        state = await self.jobs.progress(job.id, progress, written, dt.datetime.now(dt.UTC))
        if state != jobs.RUNNING:
            raise Cancelled()

    async def export(self, job: Row[Any]) -> None:
        start, end = job.range_start, job.range_end
        segments = await recorded_spans(self.ingest, job.camera_id, start, end)
        if not segments:
            raise _no_recording(job.camera_id, start, end)
        spans = [
            remux.Span(wire_time.to_datetime(s.start_time), wire_time.to_datetime(s.end_time))
            for s in segments
        ]
        gaps = remux.find_gaps(spans, start, end)
        folder = Path(tempfile.mkdtemp(prefix=f"{job.id}-", dir=self._work()))
        try:
            out = folder / "clip.mp4"
            clip = await self._pipeline(job, segments, spans, folder, out)
            await self._report(job, 0.9, out.stat().st_size)
            await self._store(job, out, clip, gaps)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _work(self) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir

    async def _pipeline(
        self, job: Row[Any], segments: list[Any], spans: list[remux.Span], folder: Path, out: Path
    ) -> remux.Clip:
        """Fetch segments while the remux thread joins them: a bounded queue between the
        two keeps at most QUEUE segments on disk and overlaps the I/O with the remux."""
        parts: queue.Queue[remux.Part | None] = queue.Queue(maxsize=QUEUE)

        def pending() -> Iterator[remux.Part]:
            while (part := parts.get()) is not None:
                yield part

        joining = asyncio.ensure_future(
            asyncio.to_thread(
                remux.remux, pending(), job.range_start, job.range_end, out, discard=True
            )
        )
        try:
            for n, (seg, span) in enumerate(zip(segments, spans, strict=True), start=1):
                data = await self.objects.get(RECORDINGS_BUCKET, seg.object_key)
                path = folder / f"{n:06d}.mp4"
                await asyncio.to_thread(path.write_bytes, data)
                await _feed(parts, remux.Part(span.start_time, span.end_time, path), joining)
                if n % 8 == 0 or n == len(segments):
                    await self._report(job, 0.8 * n / len(segments), 0)
        except BaseException:
            await _feed(parts, None, joining)  # let the thread finish before the files go
            with contextlib.suppress(Exception):
                await joining
            raise
        await _feed(parts, None, joining)
        try:
            return await joining
        except ValueError:
            raise NotFound(
                f"camera {job.camera_id}'s segments hold no frame between "
                f"{job.range_start.isoformat()} and {job.range_end.isoformat()}"
            ) from None

    async def _store(
        self, job: Row[Any], path: Path, clip: remux.Clip, gaps: list[remux.Span]
    ) -> None:
        item = await self.cases.get_item(job.item_id)
        case = await self.cases.get_case(job.case_id)
        # A retried attempt writes a new object: one left by a dead attempt is locked.
        name = "clip.mp4" if job.attempts <= 1 else f"clip-{job.attempts}.mp4"
        key = f"cases/{job.case_id}/items/{job.item_id}/{name}"
        size, digest = await self.content.store_file(
            key, path, "video/mp4", item.retain_until, case.hold_active or item.hold_active
        )
        now = dt.datetime.now(dt.UTC)
        gap_json = [
            {"start_time": g.start_time.isoformat(), "end_time": g.end_time.isoformat()}
            for g in gaps
        ]
        detail = (
            f"clip of camera {job.camera_id} {clip.start_time.isoformat()} to "
            f"{clip.end_time.isoformat()}, {clip.packets} frames, {len(gaps)} gap(s)"
        )
        values = {
            "state": store.READY, "content_type": "video/mp4", "size_bytes": size,
            "sha256": digest, "object_key": key,
        }  # fmt: skip
        actor = Actor(job.creator_subject, job.creator_org_id)
        async with self.cases.db.transaction() as conn:  # job and item change together
            if not await self.jobs.finish(
                job.id, jobs.SUCCEEDED, now, gaps=gap_json, written=size, conn=conn
            ):
                raise Cancelled()
            await self.cases.finish_item(job.item_id, values, actor, now, detail, conn)
        log.info("export_succeeded", job_id=job.id, size=size, frames=clip.packets)


async def _feed(parts: queue.Queue[Any], item: Any, joining: asyncio.Future[Any]) -> None:
    """Hand the remux thread its next part (None: the end), waiting while the queue is
    full, unless the thread is already gone (it failed: its error surfaces on await)."""
    while True:
        try:
            parts.put_nowait(item)
            return
        except queue.Full:
            if joining.done():
                return
            await asyncio.sleep(0.02)


def _no_recording(camera_id: str, start: dt.datetime, end: dt.datetime) -> RtccError:
    return NotFound(
        f"camera {camera_id} has no recording between {start.isoformat()} and "
        f"{end.isoformat()}: it was not recording then, or the footage is past its retention"
    )
