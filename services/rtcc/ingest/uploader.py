"""Drain the spool: object storage, then the index, then `rtcc.segment.created`.

Each step is idempotent (a deterministic object key, an upsert on (camera, stream,
start), the segment id as the bus message id), so a segment that failed half-way, or
whose process was killed, is simply done again from the start. A segment leaves the
spool only after all three succeeded. Per camera stream, segments go in order; a
camera whose segment keeps failing does not hold up the others.

A drain pass stores its segments' objects first, then writes all their index rows in
one transaction, then announces them one by one and forgets them together. The spool
makes a segment's media read-only when it commits it, which lets the file object store
take it by hard link.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable

import structlog

from rtcc.backends.bus import EventBus
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.errors import RtccError
from rtcc.ingest.event_windows import EventWindows, Verdict
from rtcc.ingest.segment import BUCKET, CONTENT_TYPE, ClosedSegment
from rtcc.ingest.spool import Spool, SpooledSegment
from rtcc.ingest.store import SegmentIndex

log = structlog.get_logger("rtcc.ingest.uploader")

SUBJECT = "rtcc.segment.created"
# Index rows written per transaction at most (a long backlog is indexed as it goes).
_BATCH = 64


def event_payload(seg: ClosedSegment) -> bytes:
    return json.dumps(
        {
            "segment_id": seg.id,
            "camera_id": seg.camera_id,
            "stream": seg.stream,
            "start_time": seg.start_time.isoformat(),
            "end_time": seg.end_time.isoformat(),
            "bucket": BUCKET,
            "object_key": seg.object_key,
            "size_bytes": seg.size_bytes,
            "sha256": seg.sha256,
            "discontinuity": seg.discontinuity,
        }
    ).encode()


class Uploader:
    """Moves spooled segments into durable storage; retries with backoff while it cannot."""

    def __init__(
        self,
        spool: Spool,
        objects: ObjectStore,
        index: SegmentIndex,
        bus: EventBus,
        *,
        retention_days: Callable[[str], int] = lambda _camera: 0,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        windows: EventWindows | None = None,
    ) -> None:
        self.spool, self.objects, self.index, self.bus = spool, objects, index, bus
        self.retention_days = retention_days
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        # Event-only segments are stored when a window claims them, dropped otherwise.
        self.windows = windows or EventWindows()
        self.dropped = 0
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()  # one pass at a time: a segment is stored once
        self._bucket_ready = False
        self.stored = 0
        # Seconds from a segment's end (its close) to it being stored and indexed.
        self.latencies: list[float] = []
        self.last_error = ""

    def wake(self) -> None:
        """On the event loop: a new segment is in the spool."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop`; a failed pass is retried with exponential backoff."""
        delay = self.retry_initial_s
        while not stop.is_set():
            self._wake.clear()
            failed = await self.drain()
            if failed:
                delay = min(self.retry_max_s, delay * 2)
            else:
                delay = self.retry_initial_s
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            # A periodic pass as well, so nothing waits on a missed wake-up.
            timeout = delay if failed else 5.0
            await asyncio.wait({waiter, stopper}, timeout=timeout, return_when="FIRST_COMPLETED")
            waiter.cancel()
            stopper.cancel()

    async def drain(self) -> int:
        """Store every pending segment; returns how many camera streams are stuck."""
        async with self._draining:
            return await self._drain()

    async def _drain(self) -> int:
        pending = await asyncio.to_thread(self.spool.pending)
        stuck: set[tuple[str, int]] = set()
        waiting: set[tuple[str, int]] = set()
        now = dt.datetime.now(dt.UTC)
        stored: list[SpooledSegment] = []  # objects stored this pass, still to index
        for item in pending:
            key = (item.segment.camera_id, item.segment.stream)
            if key in stuck or key in waiting:
                continue  # keep this stream's order: retry its oldest first next pass
            if item.segment.event_only:
                seg = item.segment
                verdict = self.windows.verdict(seg.camera_id, seg.start_time, seg.end_time, now)
                if verdict is Verdict.WAIT:
                    waiting.add(key)
                    continue
                if verdict is Verdict.DROP:
                    await asyncio.to_thread(self.spool.remove, item)
                    self.dropped += 1
                    continue
            try:
                await self._put_object(item)
            except (RtccError, OSError) as exc:
                self._failed(key, exc, stuck)
                continue
            stored.append(item)
            if len(stored) >= _BATCH:
                await self._finish(stored, stuck)
                stored = []
        if stored:
            await self._finish(stored, stuck)
        # A window is needed while a segment it may claim is still in the spool.
        oldest = min((i.segment.start_time for i in pending if i.segment.event_only), default=now)
        self.windows.prune(min(oldest, now) - dt.timedelta(minutes=5))
        return len(stuck)

    def _failed(self, key: tuple[str, int], exc: Exception, stuck: set[tuple[str, int]]) -> None:
        stuck.add(key)
        if str(exc) != self.last_error:
            log.warning("segment_upload_failed", camera_id=key[0], error=str(exc))
        self.last_error = str(exc)

    async def _finish(self, items: list[SpooledSegment], stuck: set[tuple[str, int]]) -> None:
        """Index a pass's stored segments in one transaction, then announce them in order."""
        try:
            await self._index(items)
        except (RtccError, OSError) as exc:
            for item in items:
                self._failed((item.segment.camera_id, item.segment.stream), exc, stuck)
            return
        announced: list[SpooledSegment] = []
        for item in items:
            key = (item.segment.camera_id, item.segment.stream)
            if key in stuck:
                continue  # an earlier segment of this stream is not announced yet
            try:
                await self.bus.publish(SUBJECT, event_payload(item.segment), msg_id=item.segment.id)
            except (RtccError, OSError) as exc:
                self._failed(key, exc, stuck)
                continue
            announced.append(item)
        # Forgotten once announced (a crash before this announces them again: the bus
        # drops a message id it has seen).
        try:
            await asyncio.to_thread(self.spool.remove, *announced)
        except OSError as exc:  # stored and announced: the next pass forgets them
            for item in announced:
                self._failed((item.segment.camera_id, item.segment.stream), exc, stuck)
            return
        done = time.time()
        self.stored += len(announced)
        self.latencies.extend(done - item.segment.end_time.timestamp() for item in announced)
        del self.latencies[:-10000]
        if announced:
            self.last_error = ""

    async def _put_object(self, item: SpooledSegment) -> None:
        seg = item.segment
        if not self._bucket_ready:
            # Object lock: evidence puts legal holds on recorded segments.
            await self.objects.ensure_bucket(BUCKET, object_lock=True)
            self._bucket_ready = True
        await self.objects.put_file(
            BUCKET,
            seg.object_key,
            item.media,
            content_type=CONTENT_TYPE,
            metadata={"sha256": seg.sha256, "camera-id": seg.camera_id, "segment-id": seg.id},
        )

    async def _index(self, items: list[SpooledSegment]) -> None:
        now = dt.datetime.now(dt.UTC)
        rows = []
        for item in items:
            seg = item.segment
            days = self.retention_days(seg.camera_id)
            rows.append((seg, seg.start_time + dt.timedelta(days=days) if days > 0 else None))
        await self.index.add_many(rows, now=now)
