"""Channels from one service to another, carrying the calling service's token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


class _BearerInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call; the token is asked for per call."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if "authorization" not in metadata:
            metadata.add("authorization", f"Bearer {self._token()}")
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)

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
    interceptors = [_BearerInterceptor(token)] if token else None
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
