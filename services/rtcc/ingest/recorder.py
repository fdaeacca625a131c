"""The cameras this replica records: one session per camera stream, one uploader.

`Recorder` is what the lease loop drives: `ensure(sources)` starts sessions for
cameras newly leased and stops those no longer leased (or whose settings changed).
"""

from __future__ import annotations

import asyncio

import structlog

from rtcc.backends.bus import EventBus
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.supervisor import SupervisedTask, Supervisor
from rtcc.ingest.event_feed import follow_events
from rtcc.ingest.event_windows import EventRollSettings, EventWindows
from rtcc.ingest.recovery import recover_partials
from rtcc.ingest.segment import MAIN, SUB
from rtcc.ingest.session import CameraSession, CameraSource, SessionSettings
from rtcc.ingest.spool import Spool, SpooledSegment
from rtcc.ingest.store import SegmentIndex
from rtcc.ingest.substreams import SubStreams
from rtcc.ingest.uploader import Uploader

log = structlog.get_logger("rtcc.ingest.recorder")

UPLOADER_TASK = "ingest-uploader"
EVENTS_TASK = "ingest-event-windows"


class Recorder:
    """Owns camera sessions and the uploader; start with `start()`, end with `stop()`."""

    def __init__(
        self,
        spool: Spool,
        objects: ObjectStore,
        index: SegmentIndex,
        bus: EventBus,
        *,
        settings: SessionSettings | None = None,
        event_roll: EventRollSettings | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.spool, self.bus = spool, bus
        self.windows = EventWindows(event_roll or EventRollSettings())
        self.settings = settings or SessionSettings()
        self.sessions: dict[tuple[str, int], CameraSession] = {}
        self._retention: dict[str, int] = {}
        self.uploader = Uploader(
            spool,
            objects,
            index,
            bus,
            retention_days=lambda c: self._retention.get(c, 0),
            windows=self.windows,
        )
        self.substreams = SubStreams(spool, self.settings)
        self._stop = asyncio.Event()
        # Owner of the uploader and the event feed (the process's supervisor in the
        # service): an unexpected exception restarts them instead of ending uploads.
        self._supervisor = supervisor or Supervisor()
        self._uploading: SupervisedTask | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Drain what a previous process left in the spool, then keep draining."""
        self._loop = asyncio.get_running_loop()
        self._stop.clear()  # a lease loop restarted by its supervisor starts again
        # Segments a killed process was writing: kept up to their last whole fragment.
        found = await asyncio.to_thread(recover_partials, self.spool)
        if found.discarded:
            log.warning("spool_partials_discarded", count=found.discarded)
        self._uploading = self._supervisor.start(
            UPLOADER_TASK, lambda: self.uploader.run(self._stop), target="ingest", critical=True
        )
        # Event-only cameras: an event's window decides which spooled segments are kept.
        self._supervisor.start(
            EVENTS_TASK,
            lambda: follow_events(self.bus, self.windows, self.uploader.wake, self._stop),
            target="ingest",
        )

    async def ensure(self, sources: list[CameraSource]) -> None:
        """Record exactly `sources`: start new sessions, stop the others."""
        wanted = {(s.camera_id, s.stream): s for s in sources}
        for key, session in list(self.sessions.items()):
            if wanted.get(key) != session.source:
                await self.remove(key)
        for key, source in wanted.items():
            self._retention[source.camera_id] = source.retention_days
            if key not in self.sessions:
                self._add(source)

    def _add(self, source: CameraSource) -> CameraSession:
        assert self._loop is not None, "start() the recorder first"
        loop = self._loop

        def segment_closed(_item: SpooledSegment) -> None:  # on the session's thread
            loop.call_soon_threadsafe(self.uploader.wake)

        engine = CameraSession
        if self.settings.engine == "ffmpeg" and source.record:
            from rtcc.ingest.ffmpeg_engine import FfmpegSession

            engine = FfmpegSession
        session = engine(
            source, self.spool, loop, settings=self.settings, on_segment=segment_closed
        )
        self.sessions[(source.camera_id, source.stream)] = session
        session.start()
        return session

    async def remove(self, key: tuple[str, int]) -> None:
        session = self.sessions.pop(key, None)
        if session is not None:
            await session.stop()
            self.uploader.wake()

    def session(self, camera_id: str, stream: int) -> CameraSession | None:
        """The live session of a camera stream recorded here; a sub stream is connected
        on demand (None when the camera is not recorded here or has no sub stream)."""
        if stream == SUB:
            main = self.sessions.get((camera_id, MAIN))
            if main is None or not main.source.sub_url:
                return None
            return self.substreams.open(main.source, main.source.sub_url)
        return self.sessions.get((camera_id, stream))

    def find(self, camera_id: str, stream: int) -> CameraSession | None:
        """The session of a camera stream if it is connected here; never connects one."""
        if stream == SUB:
            return self.substreams.sessions.get(camera_id)
        return self.sessions.get((camera_id, stream))

    def all_sessions(self) -> list[CameraSession]:
        return [*self.sessions.values(), *self.substreams.sessions.values()]

    async def reap_substreams(self) -> None:
        await self.substreams.reap({camera_id for camera_id, _ in self.sessions})

    async def stop(self, *, drain_timeout_s: float = 5.0) -> None:
        """Stop every session (closing their segments), try a last drain, stop uploading."""
        await asyncio.gather(*(s.stop() for s in self.sessions.values()))
        self.sessions.clear()
        await self.substreams.stop()
        try:
            await asyncio.wait_for(self.uploader.drain(), drain_timeout_s)
        except TimeoutError:
            log.warning("spool_left_for_next_start")
        self._stop.set()
        await self._supervisor.cancel(EVENTS_TASK)
        if self._uploading is not None and self._uploading.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._uploading.task), drain_timeout_s)
            except TimeoutError:
                pass
            await self._supervisor.cancel(UPLOADER_TASK)
