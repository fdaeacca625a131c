"""Object storage: a local directory (embedded) or S3/MinIO (at scale), one interface.

`open_object_store(url)` picks the implementation from the URL:

    file:///var/lib/rtcc/objects
    s3://ACCESS:SECRET@minio:9000?secure=false&region=us-east-1[&public_endpoint=https://…]

Both implementations share the rules enforced here (bucket and key names, metadata,
presign lifetimes, retention changes) so that code written against the directory
behaves the same against S3. Errors are `rtcc.core.errors` types only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from rtcc.core.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from rtcc.core.logging import mask_url

RetentionMode = Literal["GOVERNANCE", "COMPLIANCE"]
MAX_PRESIGN = dt.timedelta(days=7)  # the SigV4 limit; the file store keeps the same one

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_META_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What is known about a stored object.

    Listings fill key, size, etag and last_modified only (S3 returns no more without a
    request per object): call `stat` for content_type and metadata.
    """

    key: str
    size: int
    etag: str
    last_modified: dt.datetime
    content_type: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Retention:
    """A WORM retention: the object cannot be deleted or overwritten before `until`."""

    mode: RetentionMode
    until: dt.datetime


class ObjectStore(Protocol):
    """Buckets of immutable-by-convention objects addressed by '/'-separated keys."""

    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None:
        """Create `bucket` if missing; FailedPrecondition if it exists without a needed lock."""

    async def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store `data` under `key` durably; refused while the old object is locked."""
        ...

    async def put_file(
        self,
        bucket: str,
        key: str,
        path: str | Path,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Like `put`, streaming from a local file; `stat` describes what was stored
        (the recorder stores a segment every few seconds per camera and asks nothing
        back: no request, or hash, for a description nobody reads)."""
        ...

    async def get(self, bucket: str, key: str) -> bytes: ...

    async def get_range(self, bucket: str, key: str, start: int, end_inclusive: int) -> bytes:
        """Bytes start..end_inclusive (truncated at the object's end)."""
        ...

    async def stat(self, bucket: str, key: str) -> ObjectInfo: ...

    def list(
        self, bucket: str, prefix: str = "", start_after: str = ""
    ) -> AsyncIterator[ObjectInfo]:
        """Objects whose key starts with `prefix` and sorts after `start_after`, by key."""
        ...

    async def delete(self, bucket: str, key: str) -> None:
        """Remove the object (every version); no error if absent; refused while locked."""

    async def presign_get(self, bucket: str, key: str, expires: dt.timedelta) -> str:
        """A URL anyone can GET the object with until `expires` from now."""
        ...

    async def set_lifecycle(self, bucket: str, prefix: str, days: int) -> None:
        """Expire objects under `prefix` `days` after they were written."""

    async def get_lifecycle(self, bucket: str) -> dict[str, int]:
        """The expiry rules: prefix -> days."""
        ...

    async def expire(self, now: dt.datetime) -> int:
        """Apply lifecycle rules as of `now`; returns how many objects went (0: server-side)."""
        ...

    async def set_retention(
        self, bucket: str, key: str, mode: RetentionMode, until: dt.datetime
    ) -> None:
        """Lock the object until `until`; can be extended, never shortened or weakened."""

    async def get_retention(self, bucket: str, key: str) -> Retention | None: ...

    async def set_legal_hold(self, bucket: str, key: str, on: bool) -> None: ...

    async def get_legal_hold(self, bucket: str, key: str) -> bool: ...

    async def close(self) -> None: ...


def check_bucket(bucket: str) -> None:
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise InvalidArgument(
            f"bucket name {bucket!r} is invalid: use 3-63 lowercase letters, digits, '.' or '-'",
            field="bucket",
        )


def check_key(key: str) -> None:
    """Keys are '/'-separated paths of real names: no empty, '.' or '..' segment."""
    parts = key.split("/")
    if (
        not key
        or len(key.encode()) > 1024
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise InvalidArgument(
            f"object key {key!r} is invalid: use '/'-separated names without empty, "
            "'.' or '..' parts (at most 1024 bytes)",
            field="key",
        )


def check_prefix(prefix: str) -> None:
    """A listing prefix: any start of a valid key (its last part may be partial)."""
    if (
        prefix.startswith("/")
        or "\x00" in prefix
        or any(part in (".", "..") for part in prefix.split("/"))
    ):
        raise InvalidArgument(f"prefix {prefix!r} is invalid", field="prefix")


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Lowercase keys (as S3 returns them) of letters, digits, '-' and '_'; ASCII values."""
    clean: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        lowered = name.lower()
        if not _META_KEY.match(lowered) or not value.isascii() or not value.isprintable():
            raise InvalidArgument(
                f"metadata {name!r} is invalid: names use letters, digits, '-' and '_', "
                "values printable ASCII",
                field="metadata",
            )
        clean[lowered] = value
    return clean


def check_range(start: int, end_inclusive: int) -> None:
    if start < 0 or end_inclusive < start:
        raise InvalidArgument(f"byte range {start}-{end_inclusive} is invalid", field="range")


def check_presign(expires: dt.timedelta) -> None:
    if not dt.timedelta(seconds=1) <= expires <= MAX_PRESIGN:
        raise InvalidArgument("a link must expire between 1 second and 7 days from now")


def retention_until(until: dt.datetime, now: dt.datetime) -> dt.datetime:
    """Validate a retain-until date; rounded up to whole seconds as S3 stores it."""
    if until.tzinfo is None:
        raise InvalidArgument("retain-until needs a timezone-aware time", field="until")
    until = until.astimezone(dt.UTC)
    if until.microsecond:
        until = until.replace(microsecond=0) + dt.timedelta(seconds=1)
    if until <= now:
        raise InvalidArgument("retain-until must be in the future", field="until")
    return until


def check_mode(mode: str) -> None:
    if mode not in ("GOVERNANCE", "COMPLIANCE"):
        raise InvalidArgument(f"retention mode {mode!r} is not GOVERNANCE or COMPLIANCE")


def locked_error(
    bucket: str, key: str, retention: Retention | None, hold: bool, now: dt.datetime
) -> FailedPrecondition | None:
    """The error for changing a locked object, or None when it is not locked."""
    reasons = []
    if retention is not None and retention.until > now:
        reasons.append(f"under {retention.mode} retention until {retention.until.isoformat()}")
    if hold:
        reasons.append("under legal hold")
    if not reasons:
        return None
    return FailedPrecondition(f"object {bucket}/{key} is {' and '.join(reasons)}")


def no_lock_error(bucket: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"bucket {bucket} was created without object lock, so its objects cannot be given "
        "retention or legal hold; object lock can only be enabled when a bucket is created"
    )


def bucket_lock_missing(bucket: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"bucket {bucket} exists without object lock, but object lock was asked for; "
        "object lock can only be enabled when a bucket is created: use a new bucket"
    )


def _signature(secret: bytes, bucket: str, key: str, expires: int) -> str:
    message = f"GET\n{bucket}\n{key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_presigned(
    secret: bytes, bucket: str, key: str, expires: int | str, signature: str, now: dt.datetime
) -> None:
    """Check a file-store link; raises PermissionDenied saying why it is refused."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        raise PermissionDenied("the link's expiry is malformed") from None
    if not hmac.compare_digest(_signature(secret, bucket, key, expires_at), signature):
        raise PermissionDenied("the link's signature is invalid")
    if now.timestamp() >= expires_at:
        raise PermissionDenied(
            f"the link expired at {dt.datetime.fromtimestamp(expires_at, dt.UTC).isoformat()}"
        )


def sign_presigned(secret: bytes, bucket: str, key: str, expires_at: int) -> str:
    return _signature(secret, bucket, key, expires_at)


def open_object_store(
    url: str, *, signing_key: bytes | None = None, public_base_url: str | None = None
) -> ObjectStore:
    """Open the store at `url` (file:///abs/dir or s3://…); no network traffic yet.

    `signing_key` and `public_base_url` configure the file store's presigned links
    (served by the HTTP server at `{public_base_url}/objects/{bucket}/{key}`).
    """
    parts = urlsplit(url)
    if parts.scheme == "s3" and "@" in parts.path:
        raise InvalidArgument(
            f"object store URL {mask_url(url)!r} has an '@' after its host: percent-encode "
            "the secret key's special characters ('/' as %2F, '@' as %40)",
            field="object_store_url",
        )
    if parts.scheme == "file":
        from rtcc.backends.objectstore_file import FileObjectStore

        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidArgument(
                f"object store URL {mask_url(url)!r} must be file:///absolute/directory",
                field="object_store_url",
            )
        kwargs: dict[str, object] = {}
        if signing_key is not None:
            kwargs["signing_key"] = signing_key
        if public_base_url is not None:
            kwargs["public_base_url"] = public_base_url
        return FileObjectStore(Path(unquote(parts.path)), **kwargs)  # type: ignore[arg-type]
    if parts.scheme == "s3":
        from rtcc.backends.objectstore_s3 import S3ObjectStore

        if not parts.hostname:
            raise InvalidArgument(
                f"object store URL {mask_url(url)!r} names no host", field="object_store_url"
            )
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        secure = query.get("secure", "true").lower() not in ("false", "0", "no")
        scheme = "https" if secure else "http"
        port = f":{parts.port}" if parts.port else ""
        return S3ObjectStore(
            endpoint=f"{scheme}://{parts.hostname}{port}",
            access_key=unquote(parts.username) if parts.username else None,
            secret_key=unquote(parts.password) if parts.password else None,
            region=query.get("region", "us-east-1"),
            public_endpoint=query.get("public_endpoint"),
        )
    raise InvalidArgument(
        f"object store URL scheme {parts.scheme!r} is not supported; use file:/// or s3://",
        field="object_store_url",
    )
