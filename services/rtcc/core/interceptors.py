"""Server interceptors: request ids, authentication, error mapping, metrics and logs.

One interceptor wraps every method handler so that each call, unary or streaming,
gets the same treatment: a request id bound to its logs, the bearer token verified
(except for health checks and reflection), `RtccError`s turned into a status and a
sentence (with a google.rpc.BadRequest detail naming the field), and anything
unexpected into INTERNAL without a traceback reaching the client.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import CollectorRegistry, Counter, Histogram

from rtcc.core.auth import TokenAuthority, reset_current_principal, set_current_principal
from rtcc.core.calls import request_id_from, set_request_id
from rtcc.core.errors import InvalidArgument, RtccError, Unauthenticated, Unimplemented

# Calls that need no token: load balancers and grpcurl must reach these.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

log = structlog.get_logger("rtcc.grpc")


class CallMetrics:
    """Per-server Prometheus metrics (no global registry: tests run many servers)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "rtcc_grpc_calls", "gRPC calls handled", ["method", "code"], registry=registry
        )
        self.seconds = Histogram(
            "rtcc_grpc_call_seconds",
            "gRPC call latency (streams: until the stream ends)",
            ["method"],
            registry=registry,
            buckets=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 60),
        )


def _status_trailer(error: RtccError) -> tuple[tuple[str, bytes], ...]:
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if isinstance(error, InvalidArgument) and error.field:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=error.field, description=error.message
                    )
                ]
            )
        )
        status.details.append(detail)
    return (("grpc-status-details-bin", status.SerializeToString()),)


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """The one interceptor every OpenRTCC gRPC server installs."""

    def __init__(self, authority: TokenAuthority, metrics: CallMetrics) -> None:
        self._authority = authority
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method: str = details.method  # type: ignore[attr-defined]
        public = method.startswith(PUBLIC_PREFIXES)
        call = _Call(self, method, public)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                call.unary(handler.unary_unary),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                call.stream(handler.unary_stream),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                call.unary(handler.stream_unary),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            call.stream(handler.stream_stream),
            handler.request_deserializer,
            handler.response_serializer,
        )


def _restore(token: Any) -> None:
    try:
        reset_current_principal(token)
    except ValueError:
        # A stream abandoned by its client is finalised from another context; the
        # call's own context (one task per RPC) ends with it, so nothing leaks.
        pass


class _Call:
    """Wraps one method's behaviour with the cross-cutting concerns."""

    def __init__(self, owner: ServerInterceptor, method: str, public: bool) -> None:
        self._owner = owner
        self._method = method
        self._public = public

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> Any:
        if self._public:
            return set_current_principal(None)
        metadata = dict(context.invocation_metadata() or ())
        header = metadata.get("authorization", "")
        if not isinstance(header, str) or not header.lower().startswith("bearer "):
            raise Unauthenticated(
                "missing bearer token: send metadata 'authorization: Bearer <token>' "
                "(mint one with `rtcc token`)"
            )
        principal = await self._owner._authority.authenticate(header[7:].strip())
        structlog.contextvars.bind_contextvars(org_id=principal.org_id, subject=principal.subject)
        return set_current_principal(principal)

    def _begin(self, context: grpc.aio.ServicerContext) -> str:
        metadata = dict(context.invocation_metadata() or ())
        request_id = request_id_from(metadata.get("x-request-id"))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, method=self._method)
        # One task per RPC: this context is the call's own, read by audit appends.
        set_request_id(request_id)
        return request_id

    async def _fail(
        self, context: grpc.aio.ServicerContext, exc: BaseException, request_id: str
    ) -> None:
        if isinstance(exc, NotImplementedError):
            exc = Unimplemented(f"{self._method} is not implemented in this release")
        if isinstance(exc, RtccError):
            code, message, trailer = exc.code, exc.message, _status_trailer(exc)
            log.info("call_rejected", code=code.name, reason=message)
        else:
            code = grpc.StatusCode.INTERNAL
            message = f"internal error; quote request id {request_id} to the operator"
            trailer = ()
            log.exception("call_failed")
        self._record(code)
        await context.abort(code, message, trailing_metadata=trailer)

    def _record(self, code: grpc.StatusCode) -> None:
        self._owner._metrics.calls.labels(self._method, code.name).inc()

    def unary(self, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request_id = self._begin(context)
            started = time.perf_counter()
            token = None
            try:
                token = await self._authenticate(context)
                response = await behaviour(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._fail(context, exc, request_id)
                raise  # unreachable: abort raises
            finally:
                if token is not None:
                    _restore(token)
                self._owner._metrics.seconds.labels(self._method).observe(
                    time.perf_counter() - started
                )
            self._record(grpc.StatusCode.OK)
            return response

        return wrapper

    def stream(self, behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            request_id = self._begin(context)
            started = time.perf_counter()
            token = None
            try:
                token = await self._authenticate(context)
                async for item in behaviour(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._fail(context, exc, request_id)
            finally:
                if token is not None:
                    _restore(token)
                self._owner._metrics.seconds.labels(self._method).observe(
                    time.perf_counter() - started
                )
            self._record(grpc.StatusCode.OK)

        return wrapper
