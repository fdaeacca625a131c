"""What every typed client shares: a channel per call, deadlines, retries, error mapping.

A client holds a *channel factory* (``runtime.channel(target, as_service=...)`` resolves
peers lazily, so a client can be built before its peer is up) and the generated stub
class. ``unary`` makes one call with a deadline; idempotent calls (reads, checks) are
retried on UNAVAILABLE / DEADLINE_EXCEEDED with bounded, jittered exponential backoff,
writes never are. ``stream`` opens a server stream and maps its failures the same way.
Every failure reaches the caller as an ``rtcc.core.errors`` type (see ``errors.py``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from rtcc.clients.caller import Caller
from rtcc.clients.errors import RETRYABLE, translate

ChannelFactory = Callable[[], grpc.aio.Channel]


@dataclass(frozen=True)
class CallPolicy:
    """Deadline and retry rules of one client."""

    # Deadline of a unary call, seconds.
    timeout_s: float = 5.0
    # Most attempts of an idempotent call (1: no retry).
    attempts: int = 3
    # First backoff, doubled each retry, capped; each sleep is jittered to 50-100 %.
    backoff_s: float = 0.05
    max_backoff_s: float = 1.0


class ServiceClient:
    """Base of the typed clients: ``service`` names the peer in error messages."""

    service = "peer"

    def __init__(
        self, channel: ChannelFactory, stub_class: Any, policy: CallPolicy | None = None
    ) -> None:
        self._channel = channel
        self._stub_class = stub_class
        self._stubs: dict[int, Any] = {}
        self.policy = policy or CallPolicy()

    def stub(self) -> Any:
        """The generated stub over the current channel (cached per channel object)."""
        channel = self._channel()
        key = id(channel)
        stub = self._stubs.get(key)
        if stub is None:
            if len(self._stubs) > 16:
                self._stubs.clear()
            stub = self._stubs[key] = self._stub_class(channel)
        return stub

    async def unary(
        self,
        method: str,
        request: Any,
        *,
        caller: Caller | None = None,
        idempotent: bool,
        timeout_s: float | None = None,
    ) -> Any:
        """One unary call; retried only when ``idempotent``."""
        metadata = (caller or Caller.service()).metadata()
        timeout = timeout_s or self.policy.timeout_s
        attempts = self.policy.attempts if idempotent else 1
        delay = self.policy.backoff_s
        for attempt in range(1, attempts + 1):
            try:
                call = getattr(self.stub(), method)
                return await call(request, metadata=metadata, timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                if attempt == attempts or exc.code() not in RETRYABLE:
                    raise translate(exc, self.service) from None
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.policy.max_backoff_s)
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(self, method: str, request: Any, *, caller: Caller | None = None) -> Any:
        """An idempotent unary call (Get/List/Search/Check): retried on UNAVAILABLE."""
        return await self.unary(method, request, caller=caller, idempotent=True)

    async def write(self, method: str, request: Any, *, caller: Caller | None = None) -> Any:
        """A unary call that changes something: never retried."""
        return await self.unary(method, request, caller=caller, idempotent=False)

    async def stream(
        self,
        method: str,
        request: Any,
        *,
        caller: Caller | None = None,
        timeout_s: float | None = None,
    ) -> AsyncIterator[Any]:
        """A server stream's messages; its failure raised as an RtccError."""
        metadata = (caller or Caller.service()).metadata()
        call = getattr(self.stub(), method)(request, metadata=metadata, timeout=timeout_s)
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as exc:
            raise translate(exc, self.service) from None
        finally:
            call.cancel()
