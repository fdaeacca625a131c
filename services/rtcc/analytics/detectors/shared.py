"""One process's instances of a stateless detector, shared by all its cameras.

A model's memory is mostly its weights and working buffers (YOLOv3-tiny and the OCR
sessions: hundreds of MiB per camera when each camera loaded its own). Nets are not
safe to call from two threads at once, so the pool hands each call an instance of its
own: up to ``size`` instances are built on demand (about the process's cores: more
cannot run at once anyway), and a camera's thread waits for a free one otherwise.
Per-camera state (motion's background model, the tracker) stays per camera.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from rtcc.analytics.detection import Box, Detection, DetectorHealth, Frame


class SharedDetector:
    """A `Detector` backed by a pool of identical instances made by `build`."""

    def __init__(self, build: Callable[[], Any], size: int) -> None:
        self._build, self._size = build, max(1, size)
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._first = build()  # loads now: a model that cannot load says so at once
        self.name: str = self._first.name
        self.instances = 1
        self._free.put(self._first)

    def status(self) -> DetectorHealth:
        health: DetectorHealth = self._first.status()
        return health

    def detect(self, frame: Frame) -> list[Detection]:
        instance = self._take()
        try:
            found: list[Detection] = instance.detect(frame)
            return found
        finally:
            self._free.put(instance)

    def detect_in(self, frame: Frame, regions: Sequence[Box]) -> list[Detection]:
        instance = self._take()
        try:
            found: list[Detection] = instance.detect_in(frame, regions)
            return found
        finally:
            self._free.put(instance)

    def _take(self) -> Any:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = self.instances < self._size
            if grow:
                self.instances += 1
        if grow and self._first.status().ready:
            return self._build()
        return self._free.get()  # every instance busy: wait for the first one back
