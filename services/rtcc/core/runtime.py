"""What a running target gives its services: settings, backends, peers, tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
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
from rtcc.core.supervisor import RestartPolicy, SupervisedTask, Supervisor

log = structlog.get_logger("rtcc.runtime")


@dataclass
class Runtime:
    """Owned by one server process; shared by the services it hosts."""

    settings: Settings
    db: Database
    objects: ObjectStore
    bus: EventBus
    authority: TokenAuthority
    # The key that signs presigned links (not the token key: see core/keys.py).
    signing_key: bytes = b""
    # Keys that seal camera credentials at rest, newest first (empty: hand-built runtime).
    credentials_keys: tuple[bytes, ...] = ()
    # Address of this process's own gRPC server, once bound.
    self_address: str = ""
    # Targets served by this process.
    local_targets: frozenset[str] = frozenset()
    # Routes for the HTTP listener, added by services: (method, path, handler).
    http_routes: list[tuple[str, str, Any]] = field(default_factory=list)
    # Objects the services of this process share, by name (e.g. the access-decision
    # cache of ``rtcc.clients``): one per process, built by whoever needs it first.
    shared: dict[str, Any] = field(default_factory=dict)
    # Owner of every background loop of the process (see core/supervisor.py).
    supervisor: Supervisor = field(default_factory=Supervisor)
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    _service_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    log: Any = field(default_factory=lambda: structlog.get_logger("rtcc"))

    def authority_secret(self) -> bytes:
        """The key that signs presigned links of the embedded object store."""
        return self.signing_key

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a one-shot background coroutine; its failure is logged and counted.

        Loops that should come back after a failure use `supervise` instead."""
        taken = self.supervisor.tasks
        if name in taken:  # callers may spawn several tasks of one kind
            name = next(
                f"{name}#{n}" for n in range(2, len(taken) + 3) if f"{name}#{n}" not in taken
            )
        once = RestartPolicy(restart=False)
        entry = self.supervisor.start(name, lambda: coro, policy=once)
        assert entry.task is not None
        return entry.task

    def supervise(
        self,
        name: str,
        run: Callable[[], Awaitable[Any]],
        *,
        target: str,
        critical: bool = False,
        policy: RestartPolicy | None = None,
    ) -> SupervisedTask:
        """Run a background loop that is restarted with backoff when it fails; a
        critical one that cannot recover turns `target`'s health NOT_SERVING."""
        return self.supervisor.start(name, run, target=target, critical=critical, policy=policy)

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
                tls=self.settings.tls,
            )
        return self._channels[key]

    async def close(self) -> None:
        """Stop background loops, then close channels and backends."""
        await self.supervisor.stop()
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        await self.authority.close()
        await self.bus.close()
        await self.objects.close()
        await self.db.close()
