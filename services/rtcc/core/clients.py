"""Channels from one service to another, carrying the calling service's token (over TLS
or mTLS when the ``tls`` settings name a CA)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from rtcc.core.config import TlsSettings
from rtcc.core.tls import channel_credentials, channel_options


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
    address: str,
    token: Callable[[], str] | None = None,
    max_message_bytes: int = 16 << 20,
    tls: TlsSettings | None = None,
) -> grpc.aio.Channel:
    """A channel with bearer tokens attached: TLS (mTLS with a client certificate) when
    ``tls.ca_file`` is set, else plaintext (a mesh may add mTLS around it)."""
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    interceptors: list[Any] | None = None
    if token is not None:
        interceptors = [
            cls(token) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
        ]
    credentials = channel_credentials(tls) if tls is not None else None
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    options.extend(channel_options(tls or TlsSettings()))
    return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)
