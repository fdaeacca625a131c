"""The event bus: in-process (embedded) or NATS JetStream (at scale), one interface.

`open_bus(url)` picks the implementation: `memory://` or `nats://host:port`.

Semantics both implementations keep (the contract tests prove them):
- `publish` returns the stream sequence once the message is stored; a repeated `msg_id`
  within the duplicate window (2 minutes) is dropped and the original sequence returned.
- `subscribe(subject, durable=…)` is at-least-once: a message not acked within
  `ack_wait` seconds (or nak'ed) is delivered again, with `redelivered=True`.
- `queue=True` (the default): every subscription with the same durable name shares one
  cursor, each message going to one of them; the durable remembers its place across
  restarts. `queue=False`: this subscription alone receives every message (a private,
  temporary consumer, removed on close) — for caches and live feeds in every replica.
- A new durable starts at `deliver_from` (a time or a stream sequence), else with the
  messages published after it was created; an existing durable resumes where it was.

Subjects live under `rtcc.` (`rtcc.segment.created`, `rtcc.camera.changed`); a
subscription may use NATS wildcards (`rtcc.camera.*`, `rtcc.>`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from rtcc.core.errors import InvalidArgument

STREAM = "RTCC"
SUBJECTS = "rtcc.>"
DUPLICATE_WINDOW_S = 120.0

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(slots=True, eq=False)
class Message:
    """One delivery of a stored message; settle it with `ack` or `nak`."""

    subject: str
    data: bytes
    seq: int  # the stream sequence, the message's identity across redeliveries
    time: dt.datetime  # when it was stored (UTC)
    headers: dict[str, str]
    redelivered: bool
    _ack: Callable[[], Awaitable[None]] = field(repr=False)
    _nak: Callable[[float | None], Awaitable[None]] = field(repr=False)
    _progress: Callable[[], Awaitable[None]] = field(repr=False)

    async def ack(self) -> None:
        """Done with it: never deliver it to this durable again (confirmed by the server)."""
        await self._ack()

    async def nak(self, delay: float | None = None) -> None:
        """Not done: deliver it again, after `delay` seconds if given."""
        await self._nak(delay)

    async def in_progress(self) -> None:
        """Still working on it: restart its ack_wait clock."""
        await self._progress()


class Subscription(Protocol):
    """An async iterator of messages; `close()` ends the iteration."""

    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> Message: ...

    async def close(self) -> None: ...


class EventBus(Protocol):
    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Store a message durably and return its stream sequence."""
        ...

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str,
        queue: bool = True,
        deliver_from: dt.datetime | int | None = None,
        ack_wait: float = 30,
        max_inflight: int = 256,
    ) -> Subscription:
        """Consume `subject` (wildcards allowed) as the consumer named `durable`."""
        ...

    async def close(self) -> None: ...


def check_subject(subject: str, *, wildcards: bool) -> None:
    tokens = subject.split(".")
    valid = (
        len(tokens) >= 2
        and tokens[0] == "rtcc"
        and all(
            _TOKEN.match(t) or (wildcards and (t == "*" or (t == ">" and i == len(tokens) - 1)))
            for i, t in enumerate(tokens[1:], start=1)
        )
    )
    if not valid:
        raise InvalidArgument(
            f"subject {subject!r} is invalid: use 'rtcc.' followed by '.'-separated names"
            + (" ('*' and a final '>' match any)" if wildcards else ""),
            field="subject",
        )


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    clean = dict(headers or {})
    for name, value in clean.items():
        if not _TOKEN.match(name) or name.lower().startswith("nats-") or "\n" in value:
            raise InvalidArgument(f"header {name!r} is invalid or reserved", field="headers")
    return clean


def check_subscription(durable: str, ack_wait: float, max_inflight: int) -> None:
    if not _TOKEN.match(durable):
        raise InvalidArgument(
            f"durable name {durable!r} is invalid: use letters, digits, '-' and '_'",
            field="durable",
        )
    if ack_wait <= 0 or max_inflight < 1:
        raise InvalidArgument("ack_wait must be positive and max_inflight at least 1")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: '*' matches one token, a final '>' one or more."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


async def open_bus(url: str) -> EventBus:
    """Open the bus at `url`: `memory://` (this process only) or `nats://host:port`."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        from rtcc.backends.bus_memory import MemoryBus

        return MemoryBus()
    if parts.scheme in ("nats", "tls"):
        from rtcc.backends.bus_nats import NatsBus

        return await NatsBus.connect(url)
    raise InvalidArgument(
        f"bus URL scheme {parts.scheme!r} is not supported; use memory:// or nats://host:port",
        field="bus_url",
    )
