"""The one error vocabulary of OpenRTCC.

Domain code, stores and backends raise these; the gRPC error interceptor
(`rtcc.core.grpc_server`) maps each to a status code and a sentence a person can act
on. Nothing above a backend ever sees a driver's exception type.
"""

from __future__ import annotations

import grpc


class RtccError(Exception):
    """Base of every error that reaches a client as a gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The request field at fault, reported as google.rpc.BadRequest detail.
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotFound(RtccError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(RtccError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgument(RtccError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class PermissionDenied(RtccError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(RtccError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(RtccError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(RtccError):
    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(RtccError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unimplemented(RtccError):
    code = grpc.StatusCode.UNIMPLEMENTED
