"""The custody log in the database: append inside the caller's transaction, read
entries and proofs, sign checkpoints.

An append locks the case's `evidence_custody_logs` row, extends the stored compact
range by one leaf (O(log n) hashes), and inserts the entry with its canonical bytes
and leaf hash. Proofs load the case's leaf hashes (32 bytes each) into a
`MerkleTree`; nothing ever rehashes entries from scratch on the write path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.database import Database
from rtcc.core.errors import InvalidArgument, NotFound
from rtcc.core.ids import new_id
from rtcc.evidence import merkle, tables
from rtcc.evidence.custody import ZERO_HASH, Checkpoint, Entry, entry_hash

_L, _E = tables.custody_logs, tables.custody_entries


@dataclass(frozen=True, slots=True)
class Actor:
    subject: str
    org_id: str


@dataclass(frozen=True, slots=True)
class StoredEntry:
    sequence: int
    item_id: str
    action: int
    canonical: bytes
    entry_hash: str


async def append(
    conn: AsyncConnection,
    case_id: str,
    action: int,
    actor: Actor,
    now: dt.datetime,
    *,
    item_id: str = "",
    item_sha256: str = "",
    detail: str = "",
) -> Entry:
    """Append one entry to `case_id`'s log in the caller's transaction."""
    row = (
        await conn.execute(sa.select(_L).where(_L.c.case_id == case_id).with_for_update())
    ).first()
    if row is None:
        compact, head = merkle.CompactRange(), ZERO_HASH
        await conn.execute(
            _L.insert().values(
                case_id=case_id, size=0, compact=b"", head_hash=ZERO_HASH, update_time=now
            )
        )
    else:
        compact, head = merkle.CompactRange.from_bytes(row.size, row.compact), row.head_hash
    entry = Entry(
        id=new_id("cus"), case_id=case_id, sequence=compact.size + 1, action=action,
        actor_subject=actor.subject, actor_org_id=actor.org_id, time=now,
        previous_hash=head, item_id=item_id, item_sha256=item_sha256, detail=detail[:2000],
    )  # fmt: skip
    canonical = entry.canonical()
    leaf = merkle.leaf_hash(canonical)
    compact.append(leaf)
    digest = entry_hash(canonical)
    await conn.execute(
        _E.insert().values(
            case_id=case_id,
            sequence=entry.sequence,
            id=entry.id,
            item_id=item_id,
            action=action,
            canonical=canonical,
            entry_hash=digest,
            leaf_hash=leaf,
        )
    )
    await conn.execute(
        _L.update()
        .where(_L.c.case_id == case_id)
        .values(size=compact.size, compact=compact.to_bytes(), head_hash=digest, update_time=now)
    )
    return entry


class CustodyLog:
    """Reads of the custody log and signed checkpoints over it."""

    def __init__(self, db: Database, key: Ed25519PrivateKey) -> None:
        self.db, self.key = db, key

    async def entries(
        self, case_id: str, *, item_id: str = "", after: int = 0, limit: int = 1_000_000
    ) -> list[StoredEntry]:
        query = (
            sa.select(_E.c.sequence, _E.c.item_id, _E.c.action, _E.c.canonical, _E.c.entry_hash)
            .where(_E.c.case_id == case_id, _E.c.sequence > after)
            .order_by(_E.c.sequence)
            .limit(limit)
        )
        if item_id:
            query = query.where(_E.c.item_id == item_id)
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [StoredEntry(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    async def checkpoint(self, case_id: str, now: dt.datetime) -> Checkpoint:
        """A freshly signed checkpoint of the case's log as it is now."""
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(sa.select(_L).where(_L.c.case_id == case_id))).first()
        if row is None:
            raise NotFound(f"case {case_id} has no custody log")
        root = merkle.CompactRange.from_bytes(row.size, row.compact).root()
        return Checkpoint(case_id, row.size, root, row.head_hash, now).signed(self.key)

    async def tree(self, case_id: str) -> merkle.MerkleTree:
        query = sa.select(_E.c.leaf_hash).where(_E.c.case_id == case_id).order_by(_E.c.sequence)
        async with self.db.transaction(readonly=True) as conn:
            leaves = [bytes(r[0]) for r in (await conn.execute(query)).all()]
        return merkle.MerkleTree(leaves)

    async def proofs(
        self, case_id: str, sequence: int, old_size: int, now: dt.datetime
    ) -> tuple[Checkpoint, bytes, list[bytes], list[bytes]]:
        """(checkpoint, entry bytes, inclusion path, consistency path) of one case."""
        checkpoint = await self.checkpoint(case_id, now)
        tree = await self.tree(case_id)
        size = min(checkpoint.size, tree.size)
        entry, inclusion, consistency = b"", [], []
        if sequence:
            if not 1 <= sequence <= size:
                raise InvalidArgument(
                    f"sequence must be between 1 and {size}, the log's size", field="sequence"
                )
            found = await self.entries(case_id, after=sequence - 1, limit=1)
            entry = found[0].canonical
            inclusion = tree.inclusion_proof(sequence - 1, size)
        if old_size:
            if not 1 <= old_size <= size:
                raise InvalidArgument(
                    f"old_tree_size must be between 1 and {size}", field="old_tree_size"
                )
            consistency = tree.consistency_proof(old_size, size)
        return checkpoint, entry, inclusion, consistency
