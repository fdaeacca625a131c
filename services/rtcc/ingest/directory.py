"""Where the cameras to record come from: the registry's gRPC API.

The lease loop depends only on the small `CameraDirectory` protocol, so tests can feed
it cameras directly; `RegistryDirectory` is the real one, calling the registry as
the ingest service (which may read stream credentials and report health).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import grpc
from google.protobuf import timestamp_pb2

from rtcc.ingest.health import DEGRADED, OFFLINE, ONLINE, StreamHealth
from rtcc.ingest.session import CameraSource


class CameraDirectory(Protocol):
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
    """Cameras from `RegistryService.ListCameras` + `GetCameraStreamCredentials`."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel]) -> None:
        # A factory: the registry's address may be unknown (Unavailable) until it is.
        self._channel = channel
        self._urls: dict[tuple[str, str], tuple[str, str]] = {}  # (id, etag) -> main, sub

    @property
    def _stub(self) -> Any:
        from rtcc.registry.v1 import registry_pb2_grpc

        return registry_pb2_grpc.RegistryServiceStub(self._channel())

    async def cameras(self) -> list[CameraSource]:
        from rtcc.registry.v1 import registry_pb2

        sources: list[CameraSource] = []
        token = ""
        while True:
            page = await self._stub.ListCameras(
                registry_pb2.ListCamerasRequest(page_size=1000, page_token=token), timeout=10
            )
            for camera in page.cameras:
                mode = camera.recording_policy.mode
                if mode == registry_pb2.RECORDING_MODE_OFF or not camera.streams.main_url:
                    continue
                main_url, sub_url = await self._urls_of(camera.id, camera.etag)
                sources.append(
                    CameraSource(
                        camera.id,
                        main_url,
                        retention_days=camera.recording_policy.retention_days,
                        sub_url=sub_url,
                    )
                )
            token = page.next_page_token
            if not token:
                return sources

    async def _urls_of(self, camera_id: str, etag: str) -> tuple[str, str]:
        from rtcc.registry.v1 import registry_pb2

        key = (camera_id, etag)
        if key not in self._urls:
            answer = await self._stub.GetCameraStreamCredentials(
                registry_pb2.GetCameraStreamCredentialsRequest(camera_id=camera_id), timeout=10
            )
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
            await self._stub.ReportCameraHealth(
                registry_pb2.ReportCameraHealthRequest(reports=items), timeout=10
            )
