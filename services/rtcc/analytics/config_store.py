"""Cameras' detector configurations in the platform database, with optimistic locking."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa

from rtcc.analytics.tables import detector_configs
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.backends.database import Database
from rtcc.core.errors import FailedPrecondition

_OUTPUT_ONLY = ("update_time", "etag")


def _present(row: sa.Row[object]) -> pb.DetectorConfig:
    config = pb.DetectorConfig.FromString(row.spec)  # type: ignore[attr-defined]
    config.etag = row.etag  # type: ignore[attr-defined]
    config.update_time.FromDatetime(row.update_time)  # type: ignore[attr-defined]
    return config


class DetectorConfigStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, camera_id: str) -> pb.DetectorConfig | None:
        query = sa.select(detector_configs).where(detector_configs.c.camera_id == camera_id)
        async with self._db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _present(row)

    async def page(
        self, allowed: frozenset[str] | None, *, enabled_only: bool, after: str, limit: int
    ) -> list[pb.DetectorConfig]:
        """Configs of visible cameras, ordered by camera id, after ``after``."""
        c = detector_configs.c
        where: list[sa.ColumnElement[bool]] = [c.camera_id > after]
        if allowed is not None:
            where.append(c.camera_id.in_(sorted(allowed)))
        if enabled_only:
            where.append(c.enabled.is_(True))
        query = sa.select(detector_configs).where(*where).order_by(c.camera_id).limit(limit)
        async with self._db.transaction(readonly=True) as conn:
            return [_present(row) for row in (await conn.execute(query)).all()]

    async def put(self, config: pb.DetectorConfig, expected_etag: str) -> pb.DetectorConfig:
        """Store ``config``; with ``expected_etag``, only if it is still the stored one."""
        stored = pb.DetectorConfig()
        stored.CopyFrom(config)
        for name in _OUTPUT_ONLY:
            stored.ClearField(name)  # type: ignore[arg-type]
        values = {
            "enabled": stored.enabled,
            "spec": stored.SerializeToString(),
            "etag": secrets.token_hex(8),
            "update_time": datetime.now(UTC),
        }
        c = detector_configs.c
        async with self._db.transaction() as conn:
            current = (
                await conn.execute(sa.select(c.etag).where(c.camera_id == stored.camera_id))
            ).scalar_one_or_none()
            if expected_etag and expected_etag != (current or ""):
                raise FailedPrecondition(
                    f"the detector config of {stored.camera_id} changed since you read it "
                    "(etag mismatch); read it again and retry"
                )
            if current is None:
                try:
                    await conn.execute(
                        detector_configs.insert().values(camera_id=stored.camera_id, **values)
                    )
                except sa.exc.IntegrityError:
                    raise FailedPrecondition(
                        f"the detector config of {stored.camera_id} was created concurrently"
                    ) from None
            else:
                await conn.execute(
                    detector_configs.update()
                    .where(c.camera_id == stored.camera_id)
                    .values(**values)
                )
        stored.etag = str(values["etag"])
        stored.update_time.FromDatetime(values["update_time"])  # type: ignore[arg-type]
        return stored
