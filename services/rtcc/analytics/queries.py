"""Search criteria and page tokens for events and plate reads. Pure."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from rtcc.analytics.plates import MatchMode
from rtcc.common import paging
from rtcc.core.errors import InvalidArgument

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_LIST_SPAN = timedelta(days=31)


def page_size(requested: int) -> int:
    return paging.page_size(requested, default=DEFAULT_PAGE, cap=MAX_PAGE)


@dataclass(frozen=True)
class EventQuery:
    """Events in [start, end) matching every set criterion, newest first.

    ``allowed_cameras`` is the caller's visibility: None for no restriction (services,
    platform administrators), otherwise the only cameras whose events may be returned.
    """

    start: datetime
    end: datetime
    allowed_cameras: frozenset[str] | None
    camera_ids: Collection[str] = ()
    classes: Collection[int] = ()
    types: Collection[int] = ()
    colors: Collection[int] = ()
    vehicle_types: Collection[int] = ()
    zone_ids: Collection[str] = ()
    min_confidence: float = 0.0
    page_size: int = DEFAULT_PAGE
    page_token: str = ""


@dataclass(frozen=True)
class PlateQuery:
    """Plate reads matching ``query`` in [start, end), best score first."""

    query: str
    mode: MatchMode
    start: datetime
    end: datetime
    allowed_cameras: frozenset[str] | None
    max_edits: int = 1
    camera_ids: Collection[str] = ()
    regions: Collection[str] = ()
    min_confidence: float = 0.0
    # Vehicle attributes (API Color / VehicleType numbers), matched on the read's vehicle.
    colors: Collection[int] = ()
    vehicle_types: Collection[int] = ()
    page_size: int = DEFAULT_PAGE
    page_token: str = ""


def cameras_in_scope(
    allowed: frozenset[str] | None, requested: Collection[str]
) -> frozenset[str] | None:
    """The cameras a query may touch: the requested ones the caller may see.

    None means unrestricted. A requested camera the caller may not see is silently
    dropped, as the API promises (no existence leak).
    """
    if not requested:
        return allowed
    wanted = frozenset(requested)
    return wanted if allowed is None else wanted & allowed


def check_range(start: datetime, end: datetime, *, max_span: timedelta | None = None) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidArgument("time_range must be timezone-aware", field="time_range")
    if end <= start:
        raise InvalidArgument("time_range must end after it starts", field="time_range")
    if max_span is not None and end - start > max_span:
        raise InvalidArgument(
            f"time_range may span at most {max_span.days} days", field="time_range"
        )


def encode_keyset(time: datetime, row_id: str) -> str:
    return paging.encode_token("keyset", time.isoformat(), row_id)


def _refused() -> InvalidArgument:
    return InvalidArgument(
        "page_token is not a token this listing returned; start again without it",
        field="page_token",
    )


def decode_keyset(token: str) -> tuple[datetime, str]:
    time_text, row_id = paging.decode_token(token, "keyset", 2)
    try:
        when = datetime.fromisoformat(time_text)
    except ValueError:
        raise _refused() from None
    if when.tzinfo is None:
        raise _refused()
    return when, row_id


def encode_offset(offset: int) -> str:
    return paging.encode_token("offset", offset)


def decode_offset(token: str) -> int:
    if not token:
        return 0
    (text,) = paging.decode_token(token, "offset", 1)
    if not text.isdigit():
        raise _refused()
    return int(text)
