"""The object store as a local directory: the embedded default, and a product in itself.

Layout under the root directory:

    <bucket>/<key>                     the object's bytes ('/' in keys are directories)
    .rtcc/buckets/<bucket>.json        bucket settings: object lock, lifecycle rules
    .rtcc/meta/<bucket>/<key>.json     etag, content type, metadata, retention, legal hold
    .rtcc/tmp/                         writes in progress (same filesystem, renamed into place)

Writes are atomic (temp file, fsync, rename, fsync of the directory). `put_file` takes a
read-only source on the store's filesystem by hard link instead of copying it (the
caller has marked it immutable by clearing its write bits); any other source is copied.
Retention and
legal hold are enforced like S3 object lock: a locked object can be neither deleted nor
overwritten, and a retention can only be extended.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import secrets
import stat as statmode
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from rtcc.backends import objectstore as rules
from rtcc.backends.atomicfile import fsync_dir, md5_of, write_atomically
from rtcc.backends.objectstore import ObjectInfo, Retention, RetentionMode
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound

_LIST_BATCH = 1000
# A hard link cannot be made here: copy instead (other filesystem, no links, too many).
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FileObjectStore:
    """`ObjectStore` over a directory; blocking file work runs in threads."""

    def __init__(
        self,
        root: Path,
        *,
        signing_key: bytes | None = None,
        public_base_url: str = "http://127.0.0.1:8080",
    ) -> None:
        self.root = root
        # Secret for presigned links; random by default, so links die with the process.
        self.signing_key = signing_key if signing_key is not None else secrets.token_bytes(32)
        self.public_base_url = public_base_url.rstrip("/")
        self._internal = root / ".rtcc"
        self._tmp = self._internal / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        (self._internal / "buckets").mkdir(exist_ok=True)
        # Serialises changes, so a lock check and the change it guards cannot interleave.
        self._lock = threading.Lock()

    # -- paths and sidecars -------------------------------------------------------------

    def _bucket_file(self, bucket: str) -> Path:
        return self._internal / "buckets" / f"{bucket}.json"

    def _data(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def _meta(self, bucket: str, key: str) -> Path:
        return self._internal / "meta" / bucket / f"{key}.json"

    def _bucket(self, bucket: str) -> dict[str, Any]:
        rules.check_bucket(bucket)
        try:
            return dict(json.loads(self._bucket_file(bucket).read_text()))
        except FileNotFoundError:
            raise NotFound(f"bucket {bucket} does not exist") from None

    def _sidecar(self, bucket: str, key: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self._meta(bucket, key).read_text()))
        except (FileNotFoundError, NotADirectoryError):
            return {}

    def _atomic_write(self, target: Path, fill: Callable[[IO[bytes]], object]) -> None:
        try:
            write_atomically(self._tmp, target, fill)
        except (NotADirectoryError, FileExistsError, IsADirectoryError):
            raise _key_conflict(target) from None

    def _link_into(self, source: Path, target: Path) -> bool:
        """Put read-only `source` at `target` by hard link; False to copy instead.

        Atomic like a write: the link is made in the temp directory, the data fsync'ed,
        renamed over `target`, and `target`'s directory fsync'ed. The bytes are not
        read: the object's MD5 ETag is computed when somebody asks for it (`_info`).
        """
        tmp = self._tmp / f"{uuid.uuid4().hex}.tmp"
        try:
            os.link(source, tmp)
        except OSError as exc:
            if exc.errno in _NO_LINK:
                return False
            raise
        try:
            with tmp.open("rb") as linked:
                info = os.fstat(linked.fileno())
                if not statmode.S_ISREG(info.st_mode) or info.st_mode & 0o222:
                    return False  # still writable: the stored object must not change later
                os.fsync(linked.fileno())
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_dir():
                    raise IsADirectoryError(target)
                os.replace(tmp, target)  # no-op when target already is this file
            except (NotADirectoryError, FileExistsError, IsADirectoryError):
                raise _key_conflict(target) from None
            fsync_dir(target.parent)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def _write_json(self, target: Path, value: Mapping[str, Any]) -> None:
        body = json.dumps(value, sort_keys=True).encode()
        self._atomic_write(target, lambda out: out.write(body))

    def _info(self, bucket: str, key: str, *, full: bool, etag: bool = True) -> ObjectInfo:
        path = self._data(bucket, key)
        try:
            size = path.stat().st_size
            if path.is_dir():
                raise FileNotFoundError(path)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"object {bucket}/{key} does not exist") from None
        side = self._sidecar(bucket, key)
        modified = side.get("last_modified")
        return ObjectInfo(
            key=key,
            size=size,
            # An object taken by hard link has none stored until somebody asks.
            etag=side.get("etag") or (md5_of(path) if etag else ""),
            last_modified=(
                dt.datetime.fromisoformat(modified)
                if modified
                else dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            ).replace(microsecond=0),  # whole seconds, as S3 reports it
            content_type=side.get("content_type", "application/octet-stream") if full else "",
            metadata=dict(side.get("metadata", {})) if full else {},
        )

    def _lock_state(self, bucket: str, key: str) -> tuple[Retention | None, bool]:
        side = self._sidecar(bucket, key)
        raw = side.get("retention")
        retention = (
            Retention(mode=raw["mode"], until=dt.datetime.fromisoformat(raw["until"]))
            if raw
            else None
        )
        return retention, bool(side.get("legal_hold", False))

    def _refuse_if_locked(self, bucket: str, key: str) -> None:
        retention, hold = self._lock_state(bucket, key)
        error = rules.locked_error(bucket, key, retention, hold, _now())
        if error is not None:
            raise error

    def _require_lockable(self, bucket: str, key: str) -> None:
        if not self._bucket(bucket).get("object_lock"):
            raise rules.no_lock_error(bucket)
        self._info(bucket, key, full=False, etag=False)

    # -- the interface ------------------------------------------------------------------

    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None:
        await asyncio.to_thread(self._ensure_bucket, bucket, object_lock)

    def _ensure_bucket(self, bucket: str, object_lock: bool) -> None:
        rules.check_bucket(bucket)
        with self._lock:
            try:
                config = self._bucket(bucket)
            except NotFound:
                (self.root / bucket).mkdir(exist_ok=True)
                self._write_json(self._bucket_file(bucket), {"object_lock": object_lock})
                return
        if object_lock and not config.get("object_lock"):
            raise rules.bucket_lock_missing(bucket)

    async def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        def fill(out: IO[bytes]) -> str:
            out.write(data)
            return hashlib.md5(data, usedforsecurity=False).hexdigest()

        return await asyncio.to_thread(self._put, bucket, key, fill, content_type, metadata)

    async def put_file(
        self,
        bucket: str,
        key: str,
        path: str | Path,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """A read-only source on this filesystem is taken by hard link, others are copied."""

        def fill(out: IO[bytes]) -> str:
            digest = hashlib.md5(usedforsecurity=False)
            with open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            return digest.hexdigest()

        await asyncio.to_thread(self._put, bucket, key, fill, content_type, metadata, Path(path))

    def _put(
        self,
        bucket: str,
        key: str,
        fill: Callable[[IO[bytes]], str],
        content_type: str,
        metadata: Mapping[str, str] | None,
        source: Path | None = None,
    ) -> ObjectInfo:
        rules.check_key(key)
        clean = rules.check_metadata(metadata)
        self._bucket(bucket)
        etag = ""

        def write(out: IO[bytes]) -> None:
            nonlocal etag
            etag = fill(out)

        with self._lock:
            self._refuse_if_locked(bucket, key)
            now = _now()
            linked = self._link_into(source, self._data(bucket, key)) if source else False
            if not linked:
                self._atomic_write(self._data(bucket, key), write)
            side: dict[str, Any] = {
                "content_type": content_type,
                "metadata": clean,
                "last_modified": now.isoformat(),
            }
            if etag:
                side["etag"] = etag
            self._write_json(self._meta(bucket, key), side)
        return ObjectInfo(
            key=key,
            size=self._data(bucket, key).stat().st_size,
            etag=etag,
            last_modified=now.replace(microsecond=0),
            content_type=content_type,
            metadata=dict(clean),
        )

    async def get(self, bucket: str, key: str) -> bytes:
        rules.check_key(key)
        return await asyncio.to_thread(self._read, bucket, key, 0, None)

    async def get_range(self, bucket: str, key: str, start: int, end_inclusive: int) -> bytes:
        rules.check_key(key)
        rules.check_range(start, end_inclusive)
        return await asyncio.to_thread(self._read, bucket, key, start, end_inclusive)

    def _read(self, bucket: str, key: str, start: int, end_inclusive: int | None) -> bytes:
        self._bucket(bucket)
        info = self._info(bucket, key, full=False, etag=False)
        if end_inclusive is None:
            end_inclusive = info.size - 1
        elif start >= info.size:
            raise InvalidArgument(
                f"byte range starts at {start}, past the end of {bucket}/{key} ({info.size} bytes)",
                field="range",
            )
        with self._data(bucket, key).open("rb") as source:
            source.seek(start)
            return source.read(end_inclusive - start + 1)

    async def stat(self, bucket: str, key: str) -> ObjectInfo:
        rules.check_key(key)
        return await asyncio.to_thread(self._stat, bucket, key)

    def _stat(self, bucket: str, key: str) -> ObjectInfo:
        self._bucket(bucket)
        return self._info(bucket, key, full=True)

    async def delete(self, bucket: str, key: str) -> None:
        rules.check_key(key)
        await asyncio.to_thread(self._delete, bucket, key)

    def _delete(self, bucket: str, key: str) -> None:
        self._bucket(bucket)
        with self._lock:
            self._refuse_if_locked(bucket, key)
            self._remove(bucket, key)

    def _remove(self, bucket: str, key: str) -> None:
        for path, top in (
            (self._data(bucket, key), self.root / bucket),
            (self._meta(bucket, key), self._internal / "meta" / bucket),
        ):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()
                # Empty "directories" vanish with their last object, as prefixes do in S3.
                parent = path.parent
                while parent != top and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent

    async def presign_get(self, bucket: str, key: str, expires: dt.timedelta) -> str:
        rules.check_bucket(bucket)
        rules.check_key(key)
        rules.check_presign(expires)
        expires_at = int((_now() + expires).timestamp())
        signature = rules.sign_presigned(self.signing_key, bucket, key, expires_at)
        return (
            f"{self.public_base_url}/objects/{bucket}/{quote(key)}"
            f"?expires={expires_at}&signature={signature}"
        )

    async def set_lifecycle(self, bucket: str, prefix: str, days: int) -> None:
        if days < 1:
            raise InvalidArgument("a lifecycle rule needs at least 1 day", field="days")
        await asyncio.to_thread(self._set_lifecycle, bucket, prefix, days)

    def _set_lifecycle(self, bucket: str, prefix: str, days: int) -> None:
        with self._lock:
            rules.check_prefix(prefix)
            config = self._bucket(bucket)
            config.setdefault("lifecycle", {})[prefix] = days
            self._write_json(self._bucket_file(bucket), config)

    async def get_lifecycle(self, bucket: str) -> dict[str, int]:
        config = await asyncio.to_thread(self._bucket, bucket)
        return dict(config.get("lifecycle", {}))

    async def expire(self, now: dt.datetime) -> int:
        return await asyncio.to_thread(self._expire, now)

    def _expire(self, now: dt.datetime) -> int:
        removed = 0
        for config_file in sorted((self._internal / "buckets").glob("*.json")):
            bucket = config_file.stem
            for prefix, days in json.loads(config_file.read_text()).get("lifecycle", {}).items():
                cutoff = now - dt.timedelta(days=days)
                for key in self._keys(bucket, prefix, ""):
                    with self._lock:
                        with contextlib.suppress(NotFound):
                            info = self._info(bucket, key, full=False, etag=False)
                            retention, hold = self._lock_state(bucket, key)
                            locked = rules.locked_error(bucket, key, retention, hold, now)
                            if info.last_modified <= cutoff and locked is None:
                                self._remove(bucket, key)
                                removed += 1
        return removed

    async def set_retention(
        self, bucket: str, key: str, mode: RetentionMode, until: dt.datetime
    ) -> None:
        rules.check_key(key)
        rules.check_mode(mode)
        until = rules.retention_until(until, _now())
        await asyncio.to_thread(self._set_retention, bucket, key, mode, until)

    def _set_retention(
        self, bucket: str, key: str, mode: RetentionMode, until: dt.datetime
    ) -> None:
        with self._lock:
            self._require_lockable(bucket, key)
            current, _ = self._lock_state(bucket, key)
            if current is not None and current.until > _now():
                weaker = current.mode == "COMPLIANCE" and mode == "GOVERNANCE"
                if weaker or until < current.until:
                    raise FailedPrecondition(
                        f"object {bucket}/{key} is under {current.mode} retention until "
                        f"{current.until.isoformat()}; a retention can only be extended"
                    )
            side = self._sidecar(bucket, key)
            side["retention"] = {"mode": mode, "until": until.isoformat()}
            self._write_json(self._meta(bucket, key), side)

    async def get_retention(self, bucket: str, key: str) -> Retention | None:
        retention, _hold = await asyncio.to_thread(self._get_lock, bucket, key)
        return retention

    async def set_legal_hold(self, bucket: str, key: str, on: bool) -> None:
        rules.check_key(key)
        await asyncio.to_thread(self._set_legal_hold, bucket, key, on)

    def _set_legal_hold(self, bucket: str, key: str, on: bool) -> None:
        with self._lock:
            self._require_lockable(bucket, key)
            side = self._sidecar(bucket, key)
            side["legal_hold"] = on
            self._write_json(self._meta(bucket, key), side)

    async def get_legal_hold(self, bucket: str, key: str) -> bool:
        _retention, hold = await asyncio.to_thread(self._get_lock, bucket, key)
        return hold

    def _get_lock(self, bucket: str, key: str) -> tuple[Retention | None, bool]:
        rules.check_key(key)
        self._bucket(bucket)
        self._info(bucket, key, full=False, etag=False)
        return self._lock_state(bucket, key)

    async def close(self) -> None:
        return None

    async def list(
        self, bucket: str, prefix: str = "", start_after: str = ""
    ) -> AsyncIterator[ObjectInfo]:
        keys = await asyncio.to_thread(self._keys, bucket, prefix, start_after)
        for first in range(0, len(keys), _LIST_BATCH):
            batch = keys[first : first + _LIST_BATCH]
            for info in await asyncio.to_thread(self._infos, bucket, batch):
                yield info

    def _infos(self, bucket: str, keys: Sequence[str]) -> builtins.list[ObjectInfo]:
        found: builtins.list[ObjectInfo] = []
        for key in keys:
            with contextlib.suppress(NotFound):  # deleted since it was listed
                found.append(self._info(bucket, key, full=False))
        return found

    def _keys(self, bucket: str, prefix: str, start_after: str) -> builtins.list[str]:
        rules.check_prefix(prefix)
        self._bucket(bucket)
        top = self.root / bucket
        # Walk only the deepest directory that every match must be under.
        start = top / prefix.rpartition("/")[0] if "/" in prefix else top
        keys: builtins.list[str] = []
        for dirpath, _dirs, files in os.walk(start):
            rel = Path(dirpath).relative_to(top).as_posix()
            for name in files:
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix) and key > start_after:
                    keys.append(key)
        # S3 orders keys by their UTF-8 bytes.
        keys.sort(key=lambda k: k.encode())
        return keys


def _key_conflict(target: Path) -> InvalidArgument:
    return InvalidArgument(
        f"key {target.name!r} conflicts with another object: in the file store a "
        "key cannot be both an object and a prefix of other objects",
        field="key",
    )
