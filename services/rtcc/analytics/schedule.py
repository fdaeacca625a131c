"""Weekly schedules (zones and lines active only at some hours). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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


@dataclass(frozen=True)
class Schedule:
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
        if not self.windows:
            return True
        local = when.astimezone(ZoneInfo(self.time_zone or "UTC"))
        minute = local.hour * 60 + local.minute
        today = local.isoweekday()
        yesterday = (local - timedelta(days=1)).isoweekday()
        for window in self.windows:
            if window.end_minute > window.start_minute:
                if _on(window, today) and window.start_minute <= minute < window.end_minute:
                    return True
            else:  # across midnight: the evening part today, or the morning after a start day
                if _on(window, today) and minute >= window.start_minute:
                    return True
                if _on(window, yesterday) and minute < window.end_minute:
                    return True
        return False


def _on(window: Window, iso_day: int) -> bool:
    return not window.days or iso_day in window.days
