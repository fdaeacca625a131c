"""Everything the ingest servicer needs, built once per process by `service.setup`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rtcc.backends.database import Database
from rtcc.backends.objectstore import ObjectStore
from rtcc.ingest.access import CameraAccess
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.retention import Retention
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
    access: CameraAccess
    # Work started by calls that outlives them (retention runs): kept referenced here.
    background: set[asyncio.Task[Any]] = field(default_factory=set)
