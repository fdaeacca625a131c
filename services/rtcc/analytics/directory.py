"""What analysis needs to know about a camera, from the registry (as the analytics service)."""

from __future__ import annotations

from rtcc.analytics import config as detector_config
from rtcc.analytics.analysis import CameraSetup
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.clients import RegistryClient


class RegistryCameraDirectory:
    def __init__(self, registry: RegistryClient) -> None:
        self._registry = registry

    async def setup(self, camera_id: str, config: pb.DetectorConfig) -> CameraSetup:
        camera = await self._registry.get_camera(camera_id)
        has_location = camera.HasField("location")
        return CameraSetup(
            camera_id=camera_id,
            organization_id=camera.organization_id,
            zones=detector_config.zones(config),
            lines=detector_config.lines(config),
            masks=detector_config.masks(config, list(camera.privacy_masks)),
            min_confidence=config.min_confidence or detector_config.DEFAULT_MIN_CONFIDENCE,
            redact_faces=config.redact_faces,
            latitude=camera.location.latitude if has_location else None,
            longitude=camera.location.longitude if has_location else None,
        )
