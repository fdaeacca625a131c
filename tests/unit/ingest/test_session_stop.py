"""Stopping many camera sessions at once does not wait on the default thread pool.

A session's thread ends after its stop grace (closing the segment, the ffmpeg child's
SIGTERM); waiting for it by joining in a worker thread took one of the default
executor's few workers per session, so a replica stopping more sessions than workers
stopped them a few at a time and could outlast its drain. Here the executor's workers
are all busy while 12 sessions stop: they must still stop. No camera is needed: the
connection is replaced by waiting for the stop (a stand-in for the RTSP read loop).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from rtcc.ingest.session import CameraSession, CameraSource
from rtcc.ingest.spool import Spool


class _Waiting(CameraSession):
    def _connect_and_pump(self) -> bool:
        self._stop.wait()
        return True


async def test_sessions_stop_while_every_executor_worker_is_busy(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    release = threading.Event()
    # More blocked calls than the default executor has workers (at most 32).
    busy = [loop.run_in_executor(None, release.wait) for _ in range(40)]
    spool = Spool(tmp_path / "spool", reserve_bytes=0)
    sessions = [
        _Waiting(CameraSource(f"cam_{i}", "rtsp://127.0.0.1:9/none"), spool, loop)
        for i in range(12)
    ]
    for session in sessions:
        session.start()
    try:
        async with asyncio.timeout(20):
            await asyncio.gather(*(s.stop() for s in sessions))
        # Each thread has run its last line (it told the loop so); the OS thread may
        # take a moment more to end, which a join (not the executor) waits for.
        for s in sessions:
            if s._thread is not None:
                s._thread.join(timeout=5)
        assert not any(s._thread is not None and s._thread.is_alive() for s in sessions)
    finally:
        release.set()
        await asyncio.gather(*busy)
