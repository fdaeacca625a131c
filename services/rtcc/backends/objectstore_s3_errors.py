"""What S3's error codes mean in OpenRTCC's error vocabulary."""

from __future__ import annotations

from botocore.exceptions import ClientError

from rtcc.backends import objectstore as rules
from rtcc.core.errors import InvalidArgument, NotFound, Unavailable

# Codes a caller may ask `S3ObjectStore._call` to let through, to handle them itself.
NO_LOCK_CONFIG = frozenset(
    {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"}
)
DENIED = frozenset({"AccessDenied"})
ALREADY_OWNED = frozenset({"BucketAlreadyOwnedByYou"})
NO_LIFECYCLE = frozenset({"NoSuchLifecycleConfiguration"})

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_BAD_REQUEST = {"InvalidRange", "InvalidArgument", "InvalidBucketName", "KeyTooLongError"}
_RETRYABLE = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "XMinioServerNotInitialized",
    "XMinioStorageFull",
    "OperationAborted",
}
_BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "ExpiredToken",
    "InvalidToken",
}


def error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: Exception, endpoint: str, bucket: str, key: str | None) -> Exception:
    """The RtccError for a boto3 error (or `exc` itself when it is a bug of ours)."""
    where = f"the object store at {endpoint}"
    if not isinstance(exc, ClientError):  # connection refused, timeouts, closed sockets
        return Unavailable(f"{where} is unreachable: {type(exc).__name__}: {exc}")
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code == "NoSuchBucket" or (code in _MISSING and not key):
        return NotFound(f"bucket {bucket} does not exist")
    if code in _MISSING:
        return NotFound(f"object {bucket}/{key} does not exist")
    if code == "InvalidRequest" and "lock" in message.lower():
        return rules.no_lock_error(bucket)
    if code in _BAD_REQUEST:
        return InvalidArgument(f"{where} refused the request: {message or code}")
    if code in _RETRYABLE or status >= 500:
        return Unavailable(f"{where} is unavailable ({code or status}); try again")
    if code in _BAD_CREDENTIALS:
        return Unavailable(f"{where} refused our credentials ({code}): check the access key")
    return exc
