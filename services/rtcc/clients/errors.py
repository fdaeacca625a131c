"""gRPC status of a call to another service → the platform's error vocabulary, in one place."""

from __future__ import annotations

import grpc

from rtcc.core import errors

_BY_CODE: dict[grpc.StatusCode, type[errors.RtccError]] = {
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: errors.InvalidArgument,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.UNIMPLEMENTED: errors.Unimplemented,
}

# Codes worth another try of an idempotent call: the peer may answer next time.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def translate(exc: grpc.aio.AioRpcError, service: str) -> errors.RtccError:
    """The RtccError a caller of ``service`` raises for a failed call.

    A peer's own sentence is kept (it was written for a person); transport failures,
    deadlines, INTERNAL and UNKNOWN become Unavailable naming the service, never
    leaking a traceback or address.
    """
    code = exc.code()
    details = exc.details() or code.name.lower().replace("_", " ")
    kind = _BY_CODE.get(code)
    if kind is not None:
        return kind(details)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.Unavailable(f"the {service} service did not answer in time; try again")
    return errors.Unavailable(f"the {service} service cannot answer now ({code.name}); try again")
