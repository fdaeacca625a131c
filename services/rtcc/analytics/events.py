"""What a camera's analysis hands on: events with their plate read and snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from rtcc.analytics.records import EventRecord, PlateReadRecord

BUS_SUBJECT = "rtcc.analytics.event"


@dataclass
class DetectedEvent:
    """One event, ready to be stored (database, object store) and published (bus)."""

    event: EventRecord
    plate_read: PlateReadRecord | None = None
    # The frame (privacy masks blanked) as JPEG; empty when none was taken.
    snapshot_jpeg: bytes = b""
    # Seconds from the frame's capture to the event leaving the analyser.
    latency_s: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)


class EventSink(Protocol):
    """Where events go: the service stores and publishes them; tests collect them."""

    async def publish(self, event: DetectedEvent) -> None: ...


class CollectingSink:
    """An in-memory sink, for tests and benchmarks."""

    def __init__(self) -> None:
        self.events: list[DetectedEvent] = []

    async def publish(self, event: DetectedEvent) -> None:
        self.events.append(event)
