"""The one conversion between protobuf Timestamps and timezone-aware UTC datetimes. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from rtcc.core.errors import InvalidArgument


def to_datetime(value: timestamp_pb2.Timestamp, field: str = "") -> datetime:
    """A Timestamp as an aware UTC datetime (microsecond precision).

    Out of range (before year 1, after 9999, nanos outside 0..999999999):
    InvalidArgument naming ``field``, not a crash of the call."""
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        where = field or "a timestamp"
        raise InvalidArgument(
            f"{where} is out of range: seconds must lie in years 1 to 9999 and nanos "
            "in 0 to 999999999",
            field=field or None,
        ) from None


def optional_datetime(message: Any, name: str) -> datetime | None:
    """The Timestamp field ``name`` of ``message`` as a datetime; None when unset."""
    return to_datetime(getattr(message, name), name) if message.HasField(name) else None


def to_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """An aware datetime as a Timestamp; None stays None (the field stays unset)."""
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    set_timestamp(out, value)
    return out


def set_timestamp(out: timestamp_pb2.Timestamp, value: datetime | None) -> None:
    """Set ``out`` in place from an aware datetime (cheaper than FromDatetime); None: no-op."""
    if value is None:
        return
    if value.tzinfo is None:
        raise ValueError("naive datetime: the platform uses timezone-aware UTC times")
    seconds = value.timestamp()
    out.seconds = int(seconds // 1)
    out.nanos = value.microsecond * 1000
