"""Each organisation's grants in force, indexed for access decisions and cached.

Every read path asks "what has this organisation been granted?". The answer changes
only when a grant is written (``registry_state.grants_revision`` moves, on any replica)
or when the clock passes a grant's start or expiry; until then it is served from memory,
for the price of reading that one version number.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.core.auth import Principal
from rtcc.registry import access
from rtcc.registry.grant_store import GrantStore
from rtcc.registry.tables import state

_GRANTS_VERSION = sa.select(state.c.grants_revision)
# Beyond this many cameras granted one by one, memberships are queried per call.
MAX_CACHED_MEMBERSHIPS = 50_000


@dataclass(frozen=True)
class GrantSet:
    """An organisation's grants in force (without camera lists), indexed."""

    org_id: str
    rules: tuple[access.Grant, ...]
    by_grantor: dict[str, tuple[access.Grant, ...]]
    # Grantors sharing every camera with the organisation.
    whole_grantors: frozenset[str]
    # Grants naming cameras one by one, and their grantors: only cameras of these
    # grantors need a membership lookup.
    named_grant_ids: tuple[str, ...]
    named_grantors: frozenset[str]
    # camera id → named grants listing it; None when too many to keep in memory.
    named_cameras: dict[str, set[str]] | None = None

    @classmethod
    def of(
        cls,
        org_id: str,
        rules: list[access.Grant],
        named_cameras: dict[str, set[str]] | None = None,
    ) -> GrantSet:
        by_grantor: dict[str, list[access.Grant]] = {}
        for rule in rules:
            by_grantor.setdefault(rule.grantor_org_id, []).append(rule)
        named = [g for g in rules if not g.all_cameras]
        return cls(
            org_id=org_id,
            rules=tuple(rules),
            by_grantor={k: tuple(v) for k, v in by_grantor.items()},
            whole_grantors=frozenset(g.grantor_org_id for g in rules if g.all_cameras),
            named_grant_ids=tuple(sorted(g.id for g in named)),
            named_grantors=frozenset(g.grantor_org_id for g in named),
            named_cameras=named_cameras,
        )

    def visibility(self, principal: Principal) -> access.Visibility:
        """What the principal may list; equal to :func:`access.visibility` over the rules."""
        if access.sees_everything(principal):
            return access.Visibility(everything=True, org_id=principal.org_id)
        return access.Visibility(
            False, self.org_id, self.whole_grantors, frozenset(self.named_grant_ids)
        )


@dataclass
class _Entry:
    version: int
    until: datetime | None
    grants: GrantSet


class GrantCache:
    """GrantSets per organisation, least recently used evicted beyond ``size``."""

    def __init__(self, store: GrantStore, size: int = 4096) -> None:
        self._store = store
        self._size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def get(self, conn: AsyncConnection, org_id: str, now: datetime) -> GrantSet:
        version = int(await conn.scalar(_GRANTS_VERSION) or 0)
        hit = self._entries.get(org_id)
        if hit is not None and hit.version == version and (hit.until is None or now < hit.until):
            self._entries.move_to_end(org_id)
            return hit.grants
        rules, until = await self._store.in_force_for(conn, org_id, now)
        named = sorted(g.id for g in rules if not g.all_cameras)
        cameras = await self._store.named_memberships(conn, named, MAX_CACHED_MEMBERSHIPS)
        entry = _Entry(version, until, GrantSet.of(org_id, rules, cameras))
        self._entries[org_id] = entry
        self._entries.move_to_end(org_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry.grants
