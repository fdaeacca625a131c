"""The object store on S3 or MinIO through boto3; every call runs in a thread.

Object-lock buckets are versioned, so a plain DeleteObject there would only add a delete
marker and leave the data behind: `delete` removes every version instead, and refuses
(like the file store) while the object is under retention or legal hold.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from rtcc.backends import objectstore as rules
from rtcc.backends.objectstore import ObjectInfo, Retention, RetentionMode
from rtcc.backends.objectstore_s3_errors import (
    ALREADY_OWNED,
    DENIED,
    NO_LIFECYCLE,
    NO_LOCK_CONFIG,
    error_code,
    translate,
)
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

T = TypeVar("T")


class S3ObjectStore:
    """`ObjectStore` over an S3 API (path-style addressing, SigV4)."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        public_endpoint: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
            # Object-lock buckets refuse writes without a checksum (Content-MD5 or CRC).
            request_checksum_calculation="when_supported",
        )

        def client(url: str) -> S3Client:
            return boto3.session.Session().client(
                "s3",
                endpoint_url=url,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=config,
            )

        self._client = client(endpoint)
        # Links are signed for the host the outside world uses (SigV4 signs the host).
        self._signer = client(public_endpoint) if public_endpoint else self._client
        self._versioned: dict[str, bool] = {}
        self._transfer = TransferConfig(multipart_threshold=64 << 20, use_threads=False)

    async def _call(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        bucket: str,
        key: str | None = None,
        allow: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> T:
        """Run a boto3 call in a thread; errors translated, except codes in `allow`."""
        try:
            return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
        except ClientError as exc:
            if error_code(exc) in allow:
                raise
            raise translate(exc, self.endpoint, bucket, key) from None
        except BotoCoreError as exc:
            raise translate(exc, self.endpoint, bucket, key) from None

    async def _on_bucket(
        self, operation: str, bucket: str, *, allow: frozenset[str] = frozenset(), **kwargs: Any
    ) -> Any:
        method = getattr(self._client, operation)
        return await self._call(method, Bucket=bucket, bucket=bucket, allow=allow, **kwargs)

    async def _on_object(
        self,
        operation: str,
        bucket: str,
        key: str,
        *,
        allow: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> Any:
        method = getattr(self._client, operation)
        return await self._call(
            method, Bucket=bucket, Key=key, bucket=bucket, key=key, allow=allow, **kwargs
        )

    async def _lock_state(self, bucket: str, key: str) -> tuple[Retention | None, bool]:
        head = await self._on_object("head_object", bucket, key)
        mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
        retention = Retention(mode=mode, until=until.astimezone(dt.UTC)) if mode and until else None
        return retention, head.get("ObjectLockLegalHoldStatus") == "ON"

    async def _refuse_if_locked(self, bucket: str, key: str) -> None:
        try:
            retention, hold = await self._lock_state(bucket, key)
        except NotFound:
            return
        error = rules.locked_error(bucket, key, retention, hold, dt.datetime.now(dt.UTC))
        if error is not None:
            raise error

    async def _is_versioned(self, bucket: str) -> bool:
        if bucket not in self._versioned:
            answer = await self._on_bucket("get_bucket_versioning", bucket)
            self._versioned[bucket] = answer.get("Status") == "Enabled"
        return self._versioned[bucket]

    async def _lock_enabled(self, bucket: str) -> bool:
        try:
            config = await self._on_bucket(
                "get_object_lock_configuration", bucket, allow=NO_LOCK_CONFIG
            )
        except ClientError:
            return False
        return config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None:
        rules.check_bucket(bucket)
        try:
            await self._on_bucket("head_bucket", bucket)
        except NotFound:
            extra: dict[str, Any] = {}
            if self.region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                lock = {"ObjectLockEnabledForBucket": object_lock}
                await self._on_bucket("create_bucket", bucket, allow=ALREADY_OWNED, **lock, **extra)
                return
            except ClientError:  # created concurrently by another replica
                pass
        if object_lock and not await self._lock_enabled(bucket):
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
        clean = await self._before_put(bucket, key, metadata)
        extra: dict[str, Any] = {
            "ContentType": content_type,
            "Metadata": clean,
            "ChecksumAlgorithm": "CRC32",
        }
        await self._on_object("put_object", bucket, key, Body=data, **extra)
        return await self.stat(bucket, key)

    async def put_file(
        self,
        bucket: str,
        key: str,
        path: str | Path,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        clean = await self._before_put(bucket, key, metadata)
        extra: dict[str, Any] = {
            "ContentType": content_type,
            "Metadata": clean,
            "ChecksumAlgorithm": "CRC32",
        }
        upload = functools.partial(self._client.upload_file, ExtraArgs=extra, Config=self._transfer)
        await self._call(upload, str(path), bucket, key, bucket=bucket, key=key)

    async def _before_put(
        self, bucket: str, key: str, metadata: Mapping[str, str] | None
    ) -> dict[str, str]:
        rules.check_bucket(bucket)
        rules.check_key(key)
        clean = rules.check_metadata(metadata)
        # In a versioned bucket S3 would keep the locked version and add a new one; refuse,
        # as the file store must, so that code behaves the same on both.
        if await self._is_versioned(bucket):
            await self._refuse_if_locked(bucket, key)
        return clean

    async def get(self, bucket: str, key: str) -> bytes:
        rules.check_key(key)
        answer = await self._on_object("get_object", bucket, key)
        return await self._call(answer["Body"].read, bucket=bucket, key=key)

    async def get_range(self, bucket: str, key: str, start: int, end_inclusive: int) -> bytes:
        rules.check_key(key)
        rules.check_range(start, end_inclusive)
        span = f"bytes={start}-{end_inclusive}"
        answer = await self._on_object("get_object", bucket, key, Range=span)
        return await self._call(answer["Body"].read, bucket=bucket, key=key)

    async def stat(self, bucket: str, key: str) -> ObjectInfo:
        rules.check_key(key)
        head = await self._on_object("head_object", bucket, key)
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            etag=str(head["ETag"]).strip('"'),
            last_modified=_seconds(head["LastModified"]),
            content_type=str(head.get("ContentType", "")),
            metadata=dict(head.get("Metadata", {})),
        )

    async def delete(self, bucket: str, key: str) -> None:
        rules.check_bucket(bucket)
        rules.check_key(key)
        if not await self._is_versioned(bucket):
            await self._on_object("delete_object", bucket, key)
            return
        await self._refuse_if_locked(bucket, key)
        pages = await self._call(self._versions, bucket, key, bucket=bucket, key=key)
        for version_id in pages:
            try:
                await self._on_object(
                    "delete_object", bucket, key, VersionId=version_id, allow=DENIED
                )
            except ClientError:
                raise FailedPrecondition(
                    f"object {bucket}/{key} has an older version under retention or legal hold"
                ) from None

    def _versions(self, bucket: str, key: str) -> builtins.list[str]:
        """Every version and delete marker of exactly `key`, oldest first."""
        found: builtins.list[tuple[dt.datetime, str]] = []
        paginator = self._client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry.get("Key") == key:
                    found.append((entry["LastModified"], str(entry["VersionId"])))
        return [version for _, version in sorted(found)]

    async def presign_get(self, bucket: str, key: str, expires: dt.timedelta) -> str:
        rules.check_bucket(bucket)
        rules.check_key(key)
        rules.check_presign(expires)
        # Signing is local computation: no request is made.
        return self._signer.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=int(expires.total_seconds()),
        )

    async def set_lifecycle(self, bucket: str, prefix: str, days: int) -> None:
        if days < 1:
            raise InvalidArgument("a lifecycle rule needs at least 1 day", field="days")
        rules.check_prefix(prefix)
        rules_now = await self.get_lifecycle(bucket)
        rules_now[prefix] = days
        config = {
            "Rules": [
                {
                    "ID": f"expire:{rule_prefix}" if rule_prefix else "expire:all",
                    "Filter": {"Prefix": rule_prefix},
                    "Status": "Enabled",
                    "Expiration": {"Days": rule_days},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": rule_days},
                }
                for rule_prefix, rule_days in sorted(rules_now.items())
            ]
        }
        await self._on_bucket(
            "put_bucket_lifecycle_configuration", bucket, LifecycleConfiguration=config
        )

    async def get_lifecycle(self, bucket: str) -> dict[str, int]:
        rules.check_bucket(bucket)
        try:
            answer = await self._on_bucket(
                "get_bucket_lifecycle_configuration", bucket, allow=NO_LIFECYCLE
            )
        except ClientError:
            return {}
        found: dict[str, int] = {}
        for rule in answer.get("Rules", []):
            days = rule.get("Expiration", {}).get("Days")
            prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
            if days and rule.get("Status") == "Enabled":
                found[str(prefix)] = int(days)
        return found

    async def expire(self, now: dt.datetime) -> int:
        return 0  # the server applies lifecycle rules itself

    async def set_retention(
        self, bucket: str, key: str, mode: RetentionMode, until: dt.datetime
    ) -> None:
        rules.check_key(key)
        rules.check_mode(mode)
        until = rules.retention_until(until, dt.datetime.now(dt.UTC))
        try:
            wanted = {"Mode": mode, "RetainUntilDate": until}
            await self._on_object(
                "put_object_retention", bucket, key, Retention=wanted, allow=DENIED
            )
        except ClientError:
            current = await self.get_retention(bucket, key)
            raise FailedPrecondition(
                f"object {bucket}/{key} is under {current.mode if current else 'a'} retention "
                f"until {current.until.isoformat() if current else 'later'}; "
                "a retention can only be extended"
            ) from None

    async def get_retention(self, bucket: str, key: str) -> Retention | None:
        rules.check_key(key)
        try:
            answer = await self._on_object(
                "get_object_retention", bucket, key, allow=NO_LOCK_CONFIG
            )
        except (ClientError, FailedPrecondition):  # none set, or a bucket without lock
            await self.stat(bucket, key)  # NotFound when the object is missing
            return None
        retention = answer.get("Retention", {})
        if "Mode" not in retention:
            return None
        return Retention(
            mode=retention["Mode"], until=retention["RetainUntilDate"].astimezone(dt.UTC)
        )

    async def set_legal_hold(self, bucket: str, key: str, on: bool) -> None:
        rules.check_key(key)
        hold = {"Status": "ON" if on else "OFF"}
        await self._on_object("put_object_legal_hold", bucket, key, LegalHold=hold)

    async def get_legal_hold(self, bucket: str, key: str) -> bool:
        rules.check_key(key)
        try:
            answer = await self._on_object(
                "get_object_legal_hold", bucket, key, allow=NO_LOCK_CONFIG
            )
        except (ClientError, FailedPrecondition):
            await self.stat(bucket, key)
            return False
        return answer.get("LegalHold", {}).get("Status") == "ON"

    async def close(self) -> None:
        self._client.close()
        if self._signer is not self._client:
            self._signer.close()

    async def list(
        self, bucket: str, prefix: str = "", start_after: str = ""
    ) -> AsyncIterator[ObjectInfo]:
        rules.check_bucket(bucket)
        rules.check_prefix(prefix)
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "StartAfter": start_after}
        while True:
            page = await self._call(self._client.list_objects_v2, bucket=bucket, **request)
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    key=item["Key"],
                    size=int(item["Size"]),
                    etag=str(item["ETag"]).strip('"'),
                    last_modified=_seconds(item["LastModified"]),
                )
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]


def _seconds(time: dt.datetime) -> dt.datetime:
    """UTC, whole seconds: HEAD reports seconds and listings milliseconds; agree on seconds."""
    return time.astimezone(dt.UTC).replace(microsecond=0)
