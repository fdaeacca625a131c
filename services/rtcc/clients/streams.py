"""Long-lived streams re-check access and token expiry while they run.

``rechecked(source, check, every_s)`` yields ``source``'s items and runs ``check()``
every ``every_s`` seconds, also while ``source`` is silent (a quiet event subscription
must still end when its grant is revoked); ``check`` raises (PermissionDenied,
Unauthenticated) to end the stream with that status. ``access_check`` builds the usual
check: the caller's token has not expired, and the policy still allows ``what`` of
each camera.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from rtcc.clients.access import AccessDecisions, What
from rtcc.core.auth import Principal
from rtcc.core.errors import Unauthenticated

T = TypeVar("T")
Check = Callable[[], Awaitable[None]]


def require_unexpired(principal: Principal, now: datetime | None = None) -> None:
    """Unauthenticated once the caller's token has expired."""
    expires = principal.expires_at
    if expires is not None and (now or datetime.now(UTC)) >= expires:
        raise Unauthenticated("your token expired while the stream was open; sign in again")


def access_check(
    decisions: AccessDecisions,
    principal: Principal,
    camera_ids: Callable[[], Iterable[str]] | Iterable[str],
    what: What,
    *,
    raw: bool = False,
) -> Check:
    """A check: token unexpired, and ``what`` of every camera still allowed."""

    async def check() -> None:
        require_unexpired(principal)
        ids = camera_ids() if callable(camera_ids) else camera_ids
        for camera_id in ids:
            await decisions.require(principal, camera_id, what, raw=raw)

    return check


async def rechecked(source: AsyncIterable[T], check: Check, every_s: float) -> AsyncIterator[T]:
    """``source``'s items while ``check()`` passes, run every ``every_s`` seconds."""
    loop = asyncio.get_running_loop()
    items = source.__aiter__()
    deadline = loop.time() + every_s
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(items.__anext__())
            left = deadline - loop.time()
            if left > 0 and not pending.done():
                await asyncio.wait((pending,), timeout=left)
            if loop.time() >= deadline:
                await check()
                deadline = loop.time() + every_s
            if pending.done():
                done, pending = pending, None
                try:
                    item = done.result()
                except StopAsyncIteration:
                    return
                yield item
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()
