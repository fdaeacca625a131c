"""The registry's background loops, each owned by the runtime (cancelled on shutdown).

* ``follow_revisions``: advance the watchers' signal from other replicas' writes — on
  each ``rtcc.camera.changed`` bus message, and by a slow poll of the revision counter
  as a safety net when the bus is down or in-process only.
* ``sweep``: announce grants that expired (so sessions relying on them end at once),
  and prune the change feed after its retention.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import timedelta

import sqlalchemy as sa
import structlog

from rtcc.backends.bus import EventBus
from rtcc.core.auth import PLATFORM_ORG, Principal
from rtcc.registry.change_log import Notify
from rtcc.registry.context import RegistryContext
from rtcc.registry.tables import changes

SUBJECT = "rtcc.camera.changed"
POLL_S = 1.0
SWEEP_S = 5.0
PRUNE_EVERY_S = 600.0
RETENTION = timedelta(days=7)
SWEEPER = Principal("service:registry", PLATFORM_ORG, frozenset({"service"}))

log = structlog.get_logger("rtcc.registry.worker")


def bus_notifier(bus: EventBus) -> Notify:
    """Publish each committed revision so other replicas wake their watchers."""

    async def notify(revision: int) -> None:
        payload = json.dumps({"revision": revision}).encode()
        await bus.publish(SUBJECT, payload, msg_id=f"registry-revision-{revision}")

    return notify


async def follow_bus(ctx: RegistryContext, bus: EventBus) -> None:
    durable = f"registry-watch-{secrets.token_hex(4)}"
    while True:
        try:
            subscription = await bus.subscribe(SUBJECT, durable=durable, queue=False)
            try:
                async for message in subscription:
                    await message.ack()
                    revision = json.loads(message.data).get("revision", 0)
                    ctx.feed.signal.advance(int(revision))
            finally:
                await subscription.close()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("registry_bus_follow_failed", exc_info=True)
            await asyncio.sleep(5.0)


async def poll_revisions(ctx: RegistryContext, interval: float = POLL_S) -> None:
    while True:
        try:
            await ctx.feed.current()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("registry_revision_poll_failed", exc_info=True)
        await asyncio.sleep(interval)


async def announce_expiries(ctx: RegistryContext) -> int:
    """Put newly expired grants on the feed; returns how many."""
    async with ctx.db.transaction(readonly=True) as conn:
        due = await ctx.grants.expired_unannounced(conn, ctx.clock())
    if not due:
        return 0
    async with ctx.feed.write(SWEEPER, ctx.clock()) as tx:
        announced = await ctx.grants.announce_expired(tx)
    log.info("grants_expired", count=announced)
    return announced


async def sweep(ctx: RegistryContext, interval: float = SWEEP_S) -> None:
    since_prune = PRUNE_EVERY_S
    while True:
        try:
            await announce_expiries(ctx)
            if since_prune >= PRUNE_EVERY_S:
                since_prune = 0.0
                await prune(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("registry_sweep_failed", exc_info=True)
        await asyncio.sleep(interval)
        since_prune += interval


async def prune(ctx: RegistryContext) -> None:
    compacted = await ctx.feed.prune(ctx.clock() - RETENTION)
    async with ctx.db.transaction() as conn:
        on_feed = sa.select(changes.c.camera_id).where(changes.c.camera_id.is_not(None))
        await ctx.grants.prune_memberships(conn, on_feed)
    if compacted:
        log.info("registry_changes_pruned", compacted_revision=compacted)
