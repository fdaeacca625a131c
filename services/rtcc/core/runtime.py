"""What a running target gives its services: settings, backends, peers, tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import structlog

from rtcc.backends.bus import EventBus
from rtcc.backends.database import Database
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.auth import TokenAuthority
from rtcc.core.clients import open_channel
from rtcc.core.config import TARGETS, Settings
from rtcc.core.errors import Unavailable

log = structlog.get_logger("rtcc.runtime")


@dataclass
class Runtime:
    """Owned by one server process; shared by the services it hosts."""

    settings: Settings
    db: Database
    objects: ObjectStore
    bus: EventBus
    authority: TokenAuthority
    signing_key: bytes = b""
    # Address of this process's own gRPC server, once bound.
    self_address: str = ""
    # Targets served by this process.
    local_targets: frozenset[str] = frozenset()
    # Routes for the HTTP listener, added by services: (method, path, handler).
    http_routes: list[tuple[str, str, Any]] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    _service_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    log: Any = field(default_factory=lambda: structlog.get_logger("rtcc"))

    def authority_secret(self) -> bytes:
        """The key that signs presigned links of the embedded object store."""
        return self.signing_key

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a background loop owned by this runtime; its failure is logged, not lost."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background_task_failed", task=name, exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    def service_token(self, target: str) -> str:
        """A fresh-enough token for this process acting as ``service:<target>``."""
        loop_time = asyncio.get_running_loop().time()
        cached = self._service_tokens.get(target)
        ttl = self.settings.auth.service_token_ttl_s
        if cached is None or cached[1] - loop_time < ttl / 2:
            token = self.authority.service_token(target, timedelta(seconds=ttl))
            cached = (token, loop_time + ttl)
            self._service_tokens[target] = cached
        return cached[0]

    def peer_address(self, target: str) -> str:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}")
        configured: str = getattr(self.settings.peers, target)
        if configured:
            return configured
        if target in self.local_targets and self.self_address:
            return self.self_address
        raise Unavailable(
            f"the {target} service is not part of this process and RTCC_PEERS__"
            f"{target.upper()} is not set"
        )

    def channel(self, target: str, *, as_service: str = "platform") -> grpc.aio.Channel:
        """A channel to a target's gRPC API (this process's own in ``--target=all``)."""
        key = f"{target}/{as_service}"
        if key not in self._channels:
            self._channels[key] = open_channel(
                self.peer_address(target),
                token=lambda: self.service_token(as_service),
                max_message_bytes=self.settings.max_message_bytes,
            )
        return self._channels[key]

    async def close(self) -> None:
        """Stop background loops, then close channels and backends."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        await self.bus.close()
        await self.objects.close()
        await self.db.close()
