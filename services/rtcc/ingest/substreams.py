"""Sub-stream sessions on demand: connected while someone watches, never recorded.

A camera's low-resolution sub stream is what analytics decodes when its resolution
suffices. The replica that records a camera's main stream opens the sub stream only
when a live subscriber asks for it, and closes it once nobody has watched for
`linger_s`, so idle cameras keep one RTSP session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from rtcc.ingest.segment import SUB
from rtcc.ingest.session import CameraSession, CameraSource, SessionSettings
from rtcc.ingest.spool import Spool


class SubStreams:
    """The open sub-stream sessions of one replica."""

    def __init__(self, spool: Spool, settings: SessionSettings, *, linger_s: float = 30.0) -> None:
        self.spool, self.settings, self.linger_s = spool, settings, linger_s
        self.sessions: dict[str, CameraSession] = {}
        self._idle_since: dict[str, float] = {}

    def open(self, main: CameraSource, sub_url: str) -> CameraSession:
        """The camera's sub-stream session, connecting it if needed (on the event loop)."""
        session = self.sessions.get(main.camera_id)
        if session is None:
            source = dataclasses.replace(main, url=sub_url, stream=SUB, record=False)
            session = CameraSession(
                source, self.spool, asyncio.get_running_loop(), settings=self.settings
            )
            self.sessions[main.camera_id] = session
            session.start()
        self._idle_since.pop(main.camera_id, None)
        return session

    async def close(self, camera_id: str) -> None:
        session = self.sessions.pop(camera_id, None)
        self._idle_since.pop(camera_id, None)
        if session is not None:
            await session.stop()

    async def reap(self, keep: set[str]) -> None:
        """Close sessions of cameras not in `keep`, or unwatched for `linger_s`."""
        now = time.monotonic()
        for camera_id, session in list(self.sessions.items()):
            watched = session.packets.subscriber_count + session.frames.subscriber_count
            if watched and camera_id in keep:
                self._idle_since.pop(camera_id, None)
                continue
            since = self._idle_since.setdefault(camera_id, now)
            if camera_id not in keep or now - since >= self.linger_s:
                await self.close(camera_id)

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.sessions.values()))
        self.sessions.clear()
