"""The one weekly-schedule type: grants' viewing windows, detection zones, alert rules. Pure.

A schedule is a time zone and daily windows that open on some ISO weekdays (empty: every
day) at a minute after local midnight; a window whose end is not after its start runs
across midnight into the next day (22:00 to 06:00). On the wire it is
``rtcc.common.v1.WeeklySchedule``; the registry's older ``GrantSchedule`` maps onto it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rtcc.core.errors import InvalidArgument


@dataclass(frozen=True)
class Window:
    """Opens on ``days`` (ISO 1=Monday..7; empty: every day) at ``start_minute`` local time.

    ``end_minute <= start_minute`` runs past midnight into the next day.
    """

    days: frozenset[int]
    start_minute: int
    end_minute: int

    def starts_on(self, day: date) -> bool:
        return not self.days or day.isoweekday() in self.days


@dataclass(frozen=True)
class Schedule:
    """Windows in a time zone (empty: UTC). No windows at all means always active."""

    time_zone: str
    windows: tuple[Window, ...]

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(
                f"unknown time zone {self.time_zone!r}", field="schedule.time_zone"
            ) from None

    def active(self, when: datetime) -> bool:
        """Whether ``when`` (timezone-aware) falls in a window; no windows means always."""
        return not self.windows or self.open_window_end(when) is not None

    def open_window_end(self, now: datetime) -> datetime | None:
        """End of the window open at ``now`` (the latest if several); None when closed."""
        zone = ZoneInfo(self.time_zone or "UTC")
        local = now.astimezone(zone)
        minute = local.hour * 60 + local.minute
        today = local.date()
        yesterday = today - timedelta(days=1)
        ends: list[datetime] = []
        for window in self.windows:
            start, end = window.start_minute, window.end_minute
            if end > start:
                if window.starts_on(today) and start <= minute < end:
                    ends.append(_midnight(today, zone) + timedelta(minutes=end))
            elif window.starts_on(today) and minute >= start:  # across midnight: evening
                ends.append(_midnight(today + timedelta(days=1), zone) + timedelta(minutes=end))
            elif window.starts_on(yesterday) and minute < end:  # and the morning after
                ends.append(_midnight(today, zone) + timedelta(minutes=end))
        return max(ends) if ends else None


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)
