"""The recording timeline a console scrubs: recorded spans of a camera in a window."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc

from rtcc.common.v1 import common_pb2
from rtcc.core.auth import Principal
from rtcc.core.errors import InvalidArgument, Unavailable
from rtcc.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from rtcc.playback.ingest_source import from_timestamp, to_timestamp
from rtcc.playback.viewers import AccessChecker

_MAX_WINDOW = dt.timedelta(days=7)
# Segments closer than this are drawn as one span.
_JOIN = dt.timedelta(seconds=1)


def merge_spans(
    segments: list[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Join touching or overlapping segments into spans, in order."""
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(segments):
        if spans and start - spans[-1][1] <= _JOIN:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


class Timeline:
    def __init__(self, access: AccessChecker, stub: ingest_pb2_grpc.IngestServiceStub) -> None:
        self._access = access
        self._stub = stub

    async def spans(
        self, principal: Principal, camera_id: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, Any]]:
        if not start < end or end - start > _MAX_WINDOW:
            raise InvalidArgument("the window must be positive and at most 7 days", field="start")
        await self._access.check(principal, camera_id, "recorded")
        found: list[tuple[dt.datetime, dt.datetime]] = []
        token = ""
        while True:
            request = ingest_pb2.ListSegmentsRequest(
                camera_id=camera_id,
                time_range=common_pb2.TimeRange(
                    start_time=to_timestamp(start), end_time=to_timestamp(end)
                ),
                page_size=1000,
                page_token=token,
            )
            try:
                response = await self._stub.ListSegments(request, timeout=5)
            except grpc.aio.AioRpcError as exc:
                raise Unavailable(f"ingest cannot list segments: {exc.code().name}") from None
            found += [
                (from_timestamp(s.start_time), from_timestamp(s.end_time))
                for s in response.segments
            ]
            token = response.next_page_token
            if not token:
                break
        return [{"start": a.isoformat(), "end": b.isoformat()} for a, b in merge_spans(found)]
