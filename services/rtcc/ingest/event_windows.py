"""Event-only recording: which spooled segments an analytics event claims (pure).

A camera whose policy is `RECORDING_MODE_EVENT_ONLY` is recorded into the spool like
any other, but a segment is stored and indexed only if it overlaps the window of an
event on that camera: from `pre_roll_s` before the event (its `start_time` when the
event has one) to `post_roll_s` after its `event_time`. A segment that no window
claims waits in the spool while an event could still claim it — until its end plus
the pre-roll plus `grace_s` (how late an event may reach us after it happened) has
passed — and is then dropped. Nothing is dropped while events cannot be read.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    STORE = "store"  # an event window overlaps the segment
    WAIT = "wait"  # none yet, but an event that would claim it may still arrive
    DROP = "drop"  # no event can claim it any more


@dataclass(frozen=True, slots=True)
class EventRollSettings:
    pre_roll_s: float = 10.0
    post_roll_s: float = 20.0
    # Analytics publishes an event after it happened (decode, inference, storage):
    # a segment is kept this much longer for the event to reach us.
    grace_s: float = 10.0


@dataclass(slots=True)
class EventWindows:
    """The recording windows opened by events, per camera; merged and pruned."""

    settings: EventRollSettings = field(default_factory=EventRollSettings)
    # Since when events are being read (None: not now). Nothing is dropped before the
    # feed has read for `grace_s`: a restarted replica first replays recent events.
    feed_since: dt.datetime | None = None
    _windows: dict[str, list[tuple[dt.datetime, dt.datetime]]] = field(default_factory=dict)

    def add(
        self, camera_id: str, event_time: dt.datetime, start_time: dt.datetime | None = None
    ) -> tuple[dt.datetime, dt.datetime]:
        """Open the window of one event; returns it."""
        first = min(start_time or event_time, event_time)
        window = (
            first - dt.timedelta(seconds=self.settings.pre_roll_s),
            event_time + dt.timedelta(seconds=self.settings.post_roll_s),
        )
        self._windows[camera_id] = _merge([*self._windows.get(camera_id, []), window])
        return window

    def windows(self, camera_id: str) -> list[tuple[dt.datetime, dt.datetime]]:
        return list(self._windows.get(camera_id, []))

    def claims(self, camera_id: str, start: dt.datetime, end: dt.datetime) -> bool:
        """Whether an event window overlaps [start, end)."""
        return any(a < end and start < b for a, b in self._windows.get(camera_id, []))

    def verdict(
        self, camera_id: str, start: dt.datetime, end: dt.datetime, now: dt.datetime
    ) -> Verdict:
        if self.claims(camera_id, start, end):
            return Verdict.STORE
        grace = dt.timedelta(seconds=self.settings.grace_s)
        if self.feed_since is None or now < self.feed_since + grace:
            return Verdict.WAIT
        wait = dt.timedelta(seconds=self.settings.pre_roll_s) + grace
        return Verdict.WAIT if now < end + wait else Verdict.DROP

    def prune(self, before: dt.datetime) -> None:
        """Forget windows that ended before `before` (no segment still spooled needs them)."""
        for camera_id in list(self._windows):
            kept = [w for w in self._windows[camera_id] if w[1] >= before]
            if kept:
                self._windows[camera_id] = kept
            else:
                del self._windows[camera_id]


def _merge(
    windows: list[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
