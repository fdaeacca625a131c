"""Where the cameras to record come from: the registry's gRPC API.

The lease loop depends only on the small `CameraDirectory` protocol, so tests can feed
it cameras directly; `RegistryDirectory` is the real one, calling the registry as
the ingest service (which may read stream credentials and report health).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import grpc
import structlog
from google.protobuf import timestamp_pb2

from rtcc.clients.registry import RegistryClient
from rtcc.ingest.health import DEGRADED, OFFLINE, ONLINE, StreamHealth
from rtcc.ingest.session import CameraSource
from rtcc.ingest.transport import UDP_TAG

log = structlog.get_logger("rtcc.ingest.directory")


class CameraDirectory(Protocol):
    # Set when the camera list changed between two calls of `cameras()`, so the lease
    # loop can act before its next tick; the loop clears it.
    changed: asyncio.Event

    async def cameras(self) -> list[CameraSource]:
        """Every camera stream that should be recorded (URLs with credentials)."""
        ...

    async def report_health(self, reports: Sequence[tuple[str, StreamHealth]]) -> None:
        """Tell the owner of cameras how their streams are doing."""
        ...


class StaticDirectory:
    """A fixed list of cameras (tests, benchmarks)."""

    def __init__(self, sources: list[CameraSource]) -> None:
        self.sources = sources
        self.changed = asyncio.Event()
        self.reports: dict[str, StreamHealth] = {}

    async def cameras(self) -> list[CameraSource]:
        return list(self.sources)

    async def report_health(self, reports: Sequence[tuple[str, StreamHealth]]) -> None:
        self.reports.update(reports)


def with_credentials(url: str, username: str, password: str) -> str:
    """`rtsp://host/path` with `user:password@` added (percent-encoded)."""
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RegistryDirectory:
    """Cameras from the registry: a full `ListCameras` (+ `GetCameraStreamCredentials`),
    then `WatchCameras` from the listing's revision to follow every change.

    `watch()` (the follower, run by the service) lists in full, follows the changes,
    and lists in full again every `resync_s` as a safety net (or at once when the
    stream breaks). While it is not following, `cameras()` lists in full on every
    call, as a poll, so a registry without a working watch still works.
    """

    def __init__(self, channel: Callable[[], grpc.aio.Channel], *, resync_s: float = 300.0) -> None:
        # A factory: the registry's address may be unknown (Unavailable) until it is.
        self._channel = channel
        self._registry = RegistryClient(channel)
        self._urls: dict[tuple[str, str], tuple[str, str]] = {}  # (id, etag) -> main, sub
        self.resync_s = resync_s
        self._known: dict[str, CameraSource] | None = None
        self._revision = 0
        self.following = False  # a WatchCameras stream is open and the cache is current
        self.full_lists = 0  # how many full listings were made (a measure of registry load)
        self.changes_applied = 0
        self.changed = asyncio.Event()

    async def cameras(self) -> list[CameraSource]:
        if self._known is None or not self.following:
            await self._resync()
        assert self._known is not None
        return list(self._known.values())

    async def watch(self, stop: asyncio.Event, *, retry_s: float = 3.0) -> None:
        """Follow the registry's changes until `stop` (owned by the service)."""
        while not stop.is_set():
            call: Any = None
            try:
                await self._resync()
                call = self._registry.watch(self._revision)
                self.following = True
                async with asyncio.timeout(self.resync_s):
                    async for change in call:
                        await self._apply(change)
                raise ConnectionError("the registry ended the watch")
            except TimeoutError:
                continue  # the periodic full resync
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # registry away: tick-time listing takes over
                self.following = False
                log.warning("camera_watch_failed", error=str(exc))
                try:
                    await asyncio.wait_for(stop.wait(), retry_s)
                except TimeoutError:
                    pass
            finally:
                self.following = False
                if call is not None:
                    await call.aclose()

    async def _apply(self, change: Any) -> None:
        from rtcc.registry.v1 import registry_pb2

        kind = change.type
        self._revision = max(self._revision, change.revision)
        if self._known is None or kind in (
            registry_pb2.CAMERA_CHANGE_TYPE_HEALTH_CHANGED,  # our own reports, mostly
            registry_pb2.CAMERA_CHANGE_TYPE_ACCESS_CHANGED,  # ingest sees every camera
        ):
            return
        self.changes_applied += 1
        self.changed.set()
        if kind == registry_pb2.CAMERA_CHANGE_TYPE_DELETED or not change.HasField("camera"):
            self._known.pop(change.camera_id, None)
            return
        source = await self._source(change.camera)
        if source is None:
            self._known.pop(change.camera_id, None)
        else:
            self._known[change.camera_id] = source

    async def _resync(self) -> None:
        known: dict[str, CameraSource] = {}
        revision = None
        async for page in self._registry.list_camera_pages():
            # The first page's revision: a change made while paging is replayed.
            revision = page.revision if revision is None else revision
            for camera in page.cameras:
                source = await self._source(camera)
                if source is not None:
                    known[camera.id] = source
        self._known, self._revision = known, revision or 0
        self.full_lists += 1

    async def _source(self, camera: Any) -> CameraSource | None:
        """What to record of a camera, or None when it is not to be recorded."""
        from rtcc.registry.v1 import registry_pb2

        mode = camera.recording_policy.mode
        if mode == registry_pb2.RECORDING_MODE_OFF or not camera.streams.main_url:
            return None
        main_url, sub_url = await self._urls_of(camera.id, camera.etag)
        return CameraSource(
            camera.id,
            main_url,
            retention_days=camera.recording_policy.retention_days,
            sub_url=sub_url,
            event_only=mode == registry_pb2.RECORDING_MODE_EVENT_ONLY,
            transport="udp" if UDP_TAG in camera.tags else "",
        )

    async def _urls_of(self, camera_id: str, etag: str) -> tuple[str, str]:
        key = (camera_id, etag)
        if key not in self._urls:
            answer = await self._registry.stream_credentials(camera_id)
            user, password = answer.credentials.username, answer.credentials.password
            self._urls[key] = (
                with_credentials(answer.main_url, user, password),
                with_credentials(answer.sub_url, user, password) if answer.sub_url else "",
            )
        return self._urls[key]

    async def report_health(self, reports: Sequence[tuple[str, StreamHealth]]) -> None:
        from rtcc.registry.v1 import registry_pb2

        status = {
            ONLINE: registry_pb2.CAMERA_STATUS_ONLINE,
            DEGRADED: registry_pb2.CAMERA_STATUS_DEGRADED,
            OFFLINE: registry_pb2.CAMERA_STATUS_OFFLINE,
        }
        items = []
        for camera_id, health in reports:
            seen = timestamp_pb2.Timestamp()
            if health.last_packet_time is not None:
                seen.FromDatetime(health.last_packet_time.astimezone(dt.UTC).replace(tzinfo=None))
            items.append(
                registry_pb2.CameraHealthReport(
                    camera_id=camera_id,
                    health=registry_pb2.CameraHealth(
                        status=status.get(health.state, registry_pb2.CAMERA_STATUS_OFFLINE),
                        last_seen_time=seen if health.last_packet_time else None,
                        frames_per_second=health.fps,
                        bitrate_bps=health.bitrate_bps,
                        detail=health.last_error,
                    ),
                )
            )
        if items:
            await self._registry.report_health(items)
