"""Which cameras a replica should hold: balanced, sticky, and quick to take over.

Pure. Every replica runs the same plan on the same facts (cameras, live replicas,
current holders): each may hold at most its fair share (cameras / replicas, the remainder
going to the first replicas in id order);
free cameras (never leased, released, or whose holder's lease expired) are taken in
the order of rendezvous hashing, so a camera goes back to the same replica after a
restart (sticky) and cameras spread evenly without coordination.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

INGEST_POOL = 1  # rtcc.ingest.v1.LeasePool.LEASE_POOL_INGEST
ANALYTICS_POOL = 2


@dataclass(frozen=True, slots=True)
class Lease:
    """One camera's lease in one pool."""

    camera_id: str
    pool: int
    replica_id: str
    epoch: int
    acquire_time: dt.datetime
    renew_time: dt.datetime
    expire_time: dt.datetime
    # The holder's gRPC HOST:PORT ('' when it serves no live streams).
    address: str = ""


@dataclass(frozen=True, slots=True)
class LeasePlan:
    acquire: list[str]
    release: list[str]


def affinity(camera_id: str, replica_id: str) -> int:
    """Rendezvous weight: higher means the replica prefers the camera more."""
    digest = hashlib.blake2b(f"{camera_id}|{replica_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def fair_share(cameras: int, replicas: int, position: int = 0) -> int:
    """The share of the replica at `position` in the sorted live list: the first
    `cameras % replicas` replicas take one more, so the shares add up exactly."""
    replicas = max(replicas, 1)
    return cameras // replicas + (1 if position < cameras % replicas else 0)


def plan(
    me: str,
    cameras: list[str],
    replicas: list[str],
    holders: dict[str, str],
    max_cameras: int = 0,
) -> LeasePlan:
    """What `me` should acquire and release, given the unexpired `holders` per camera;
    never more than `max_cameras` held (0: no limit)."""
    live = sorted(set(replicas) | {me})
    wanted = set(cameras)
    share = fair_share(len(wanted), len(live), live.index(me))
    if max_cameras:
        share = min(share, max_cameras)
    mine = [c for c, holder in holders.items() if holder == me]
    release = [c for c in mine if c not in wanted]
    kept = [c for c in mine if c in wanted]
    # Over the share: give back the cameras this replica likes least.
    kept.sort(key=lambda c: affinity(c, me), reverse=True)
    release += kept[share:]
    kept = kept[:share]
    room = share - len(kept)
    free = [c for c in wanted if c not in holders]
    # Prefer cameras for which this replica ranks highest among the live ones.
    free.sort(key=lambda c: (_rank(c, me, live), -affinity(c, me), c))
    return LeasePlan(acquire=free[: max(room, 0)], release=sorted(release))


def _rank(camera_id: str, me: str, live: list[str]) -> int:
    mine = affinity(camera_id, me)
    return sum(1 for r in live if r != me and affinity(camera_id, r) > mine)
