"""Item content in the object store: hashed while stored, under object lock.

Everything lives in the `evidence` bucket, created with object lock: each object gets
a GOVERNANCE retention until its category's end (100 years for "indefinitely") as it
is written, and a legal hold while its case or the item is held. Neither people nor
retention can delete a locked object; the object store refuses, whatever the caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path

from rtcc.backends.objectstore import ObjectStore
from rtcc.core.errors import FailedPrecondition

BUCKET = "evidence"
RECORDINGS_BUCKET = "recordings"  # where ingest stores segments (its documented bucket)
INDEFINITE = dt.timedelta(days=365 * 100)
CHUNK = 1 << 20


def sha256_file(path: Path) -> tuple[int, str]:
    """(size, hex SHA-256) of a file, read in 1 MiB chunks. Blocking."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def retain_until(days: float | None, created: dt.datetime) -> dt.datetime | None:
    """When an item of a category may go; None: kept indefinitely."""
    return None if days is None else created + dt.timedelta(days=days)


class Content:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self._ready = False

    async def ensure(self) -> None:
        if not self._ready:
            await self.objects.ensure_bucket(BUCKET, object_lock=True)
            self._ready = True

    async def store_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        until: dt.datetime | None,
        hold: bool,
    ) -> tuple[int, str]:
        """Hash, store and lock a file; returns (size, sha256)."""
        await self.ensure()
        size, digest = await asyncio.to_thread(sha256_file, path)
        await self.objects.put_file(
            BUCKET, key, path, content_type=content_type, metadata={"sha256": digest}
        )
        await self.lock(key, until, hold)
        return size, digest

    async def store_bytes(
        self, key: str, data: bytes, content_type: str, until: dt.datetime | None, hold: bool
    ) -> tuple[int, str]:
        await self.ensure()
        digest = hashlib.sha256(data).hexdigest()
        await self.objects.put(
            BUCKET, key, data, content_type=content_type, metadata={"sha256": digest}
        )
        await self.lock(key, until, hold)
        return len(data), digest

    async def lock(self, key: str, until: dt.datetime | None, hold: bool) -> None:
        when = until or dt.datetime.now(dt.UTC) + INDEFINITE
        if when > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1):
            await self.objects.set_retention(BUCKET, key, "GOVERNANCE", when)
        if hold:
            await self.objects.set_legal_hold(BUCKET, key, True)

    async def hold(self, key: str, on: bool) -> None:
        await self.objects.set_legal_hold(BUCKET, key, on)

    async def get(self, key: str) -> bytes:
        return await self.objects.get(BUCKET, key)

    async def remove(self, key: str) -> bool:
        """Delete an object; False when its lock (retention or hold) keeps it."""
        try:
            await self.objects.delete(BUCKET, key)
        except FailedPrecondition:
            return False
        return True
