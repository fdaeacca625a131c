"""Weekly schedules of zones and lines: the platform's one schedule type (``rtcc.common``)."""

from __future__ import annotations

from rtcc.common.schedule import Schedule, Window

__all__ = ["Schedule", "Window"]
