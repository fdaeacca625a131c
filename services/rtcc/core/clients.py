"""Channels from one service to another, carrying the calling service's token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


class _Bearer:
    """Adds ``authorization: Bearer <token>`` to a call; the token is asked for per call."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if "authorization" not in metadata:
            metadata.add("authorization", f"Bearer {self._token()}")
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


# grpc.aio files each interceptor under the first call type it implements, so one
# object implementing all four would only ever see unary calls: one class per type.
class _UnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def open_channel(
    address: str, token: Callable[[], str] | None = None, max_message_bytes: int = 16 << 20
) -> grpc.aio.Channel:
    """An insecure channel (mTLS is the mesh's job in a cluster) with bearer tokens attached."""
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    interceptors: list[Any] | None = None
    if token is not None:
        interceptors = [
            cls(token) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
        ]
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
