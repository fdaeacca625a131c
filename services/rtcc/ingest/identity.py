"""Who this ingest replica is: a name that survives a restart on the same data.

A replica's leases carry its id. If a restarted replica came back under a new id its
cameras would wait for the old id's leases to expire (10 s of video lost on every
restart); with the same id it takes them back at once (`LeaseStore.acquire` lets the
holder re-take its own lease). The id is kept in the data directory, which in
Kubernetes is the pod's own volume (a StatefulSet claim), so it follows the spool:
whoever finishes uploading a spool also records its cameras.

Two processes on one data directory would share a spool and an id; the first takes
an exclusive lock on ``ingest-replica.lock`` and the second is refused.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from rtcc.core.errors import FailedPrecondition

ID_FILE = "ingest-replica-id"
LOCK_FILE = "ingest-replica.lock"


@dataclass
class ReplicaIdentity:
    """This replica's id, and the lock that keeps its data directory its own."""

    replica_id: str
    _lock_fd: int

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1


def claim_identity(data_dir: Path, configured: str = "") -> ReplicaIdentity:
    """Lock `data_dir` for this process and return the replica id to use.

    `configured` (the ``ingest.replica_id`` setting) wins; otherwise the id stored in
    the data directory, created on first start as ``<host name>-<6 hex digits>``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FailedPrecondition(
            f"another rtcc ingest process uses the data directory {data_dir}; give each "
            "ingest replica its own RTCC_DATA_DIR"
        ) from None
    try:
        replica_id = configured or _stored_id(data_dir / ID_FILE)
    except BaseException:
        os.close(fd)
        raise
    return ReplicaIdentity(replica_id, fd)


def _stored_id(path: Path) -> str:
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    replica_id = f"{socket.gethostname()}-{secrets.token_hex(3)}"
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as handle:
        handle.write(replica_id + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return replica_id
