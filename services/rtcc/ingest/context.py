"""Everything the ingest servicer needs, built once per process by `service.setup`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rtcc.backends.database import Database
from rtcc.backends.objectstore import ObjectStore
from rtcc.clients import AccessDecisions
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.retention import Retention
from rtcc.ingest.routing import LiveRouter
from rtcc.ingest.status_store import StatusStore
from rtcc.ingest.store import SegmentIndex


@dataclass
class IngestContext:
    replica_id: str
    db: Database
    objects: ObjectStore
    index: SegmentIndex
    leases: LeaseStore
    statuses: StatusStore
    recorder: Recorder
    retention: Retention
    # The platform's access policy, cached (rtcc.clients.access).
    access: AccessDecisions
    # Work started by calls that outlives them (retention runs): kept referenced here.
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # Seconds between access and token re-checks on live streams (settings.access).
    recheck_s: float = 2.0
    # Relays live streams of cameras recorded by other replicas (None: answer here only).
    routing: LiveRouter | None = None
