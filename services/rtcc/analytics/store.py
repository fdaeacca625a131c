"""Events and plate reads in the platform database (SQLite or PostgreSQL).

Every read takes the caller's visible cameras (``allowed_cameras``) and never returns
a row of another camera. Plate search follows the scheme in ``rtcc.analytics.plates``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rtcc.analytics import event_search
from rtcc.analytics import plates as plate_rules
from rtcc.analytics.plates import MatchMode
from rtcc.analytics.queries import (
    MAX_LIST_SPAN,
    EventQuery,
    PlateQuery,
    cameras_in_scope,
    check_range,
    decode_keyset,
    decode_offset,
    encode_keyset,
    encode_offset,
    page_size,
)
from rtcc.analytics.records import (
    COLOR_CODES,
    VEHICLE_TYPE_CODES,
    EventRecord,
    PlateMatch,
    PlateReadRecord,
)
from rtcc.analytics.tables import events, plate_reads
from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.backends.database import Database
from rtcc.core.auth import Principal
from rtcc.core.errors import InvalidArgument, NotFound

# Most candidate reads ranked for one plate search; beyond it the newest are ranked.
CANDIDATE_CAP = 2000
# Most rows a 2- or 3-edit fuzzy search may scan before asking for a narrower range.
FUZZY_SCAN_CAP = 200_000


def _event_row(record: EventRecord) -> dict[str, Any]:
    row = dataclasses.asdict(record)
    row["box"] = list(record.box)
    row["create_time"] = record.create_time or datetime.now(UTC)
    return row


def _plate_row(record: PlateReadRecord) -> dict[str, Any]:
    row = dataclasses.asdict(record)
    row["box"] = list(record.box)
    row["characters"] = [[c, float(p)] for c, p in record.characters]
    row["plate_folded"] = plate_rules.fold(record.plate)
    return row


def _event(row: sa.Row[Any]) -> EventRecord:
    data = dict(row._mapping)
    data["box"] = tuple(data["box"])
    return EventRecord(**data)


def _plate(row: sa.Row[Any]) -> PlateReadRecord:
    data = dict(row._mapping)
    data.pop("plate_folded", None)
    data["box"] = tuple(data["box"])
    data["characters"] = [(str(c), float(p)) for c, p in data["characters"]]
    return PlateReadRecord(**data)


def _scope(column: sa.ColumnElement[Any], allowed: frozenset[str] | None) -> list[Any]:
    return [] if allowed is None else [column.in_(sorted(allowed))]


class AnalyticsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def database(self) -> Database:
        """The database (crime analysis reads event points with its own query)."""
        return self._db

    def _insert_once(self, table: sa.Table) -> Any:
        """An insert that leaves a row already stored under the same id as it is.

        Storing is idempotent on the id: a sink that retries after a bus publish timed out
        (but the rows had been committed, or the message reached the server) meets its own
        rows again and goes on to announce, instead of failing on a duplicate key forever.
        """
        insert: Any = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        return insert(table).on_conflict_do_nothing(index_elements=["id"])

    async def add_events(self, records: Sequence[EventRecord]) -> None:
        if records:
            async with self._db.transaction() as conn:
                await conn.execute(self._insert_once(events), [_event_row(r) for r in records])

    async def add_plate_reads(self, records: Sequence[PlateReadRecord]) -> None:
        if records:
            rows = [_plate_row(r) for r in records]
            async with self._db.transaction() as conn:
                await conn.execute(self._insert_once(plate_reads), rows)

    async def get_event(self, event_id: str, allowed: frozenset[str] | None) -> EventRecord:
        query = sa.select(events).where(
            events.c.id == event_id, *_scope(events.c.camera_id, allowed)
        )
        async with self._db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"event {event_id!r} does not exist or is not visible to you")
        return _event(row)

    async def get_plate_read(self, read_id: str, allowed: frozenset[str] | None) -> PlateReadRecord:
        query = sa.select(plate_reads).where(
            plate_reads.c.id == read_id, *_scope(plate_reads.c.camera_id, allowed)
        )
        async with self._db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"plate read {read_id!r} does not exist or is not visible to you")
        return _plate(row)

    async def audit(self, principal: Principal, action: str, kind: str, resource_id: str) -> None:
        """Record an access (e.g. a snapshot URL handed out) in the platform's audit log."""
        entry = AuditEntry(principal.subject, principal.org_id, action, kind, resource_id)
        async with self._db.transaction() as conn:
            await append_audit(conn, entry)

    async def list_events(self, query: EventQuery) -> tuple[list[EventRecord], str]:
        """ListEvents: cameras and a time range of at most 31 days."""
        check_range(query.start, query.end, max_span=MAX_LIST_SPAN)
        return await self.search_events(query)

    async def search_events(self, query: EventQuery) -> tuple[list[EventRecord], str]:
        """Events matching every criterion, newest first, one page and the next token."""
        check_range(query.start, query.end)
        cameras = cameras_in_scope(query.allowed_cameras, query.camera_ids)
        if cameras is not None and not cameras:
            return [], ""
        size = page_size(query.page_size)
        after = decode_keyset(query.page_token) if query.page_token else None
        select, params = event_search.statement(
            query, cameras, size, after, dialect=self._db.dialect
        )
        async with self._db.transaction(readonly=True) as conn:
            rows = [_event(r) for r in (await conn.execute(select, params)).all()]
        if len(rows) <= size:
            return rows, ""
        last = rows[size - 1]
        return rows[:size], encode_keyset(last.event_time, last.id)

    async def search_plate_reads(self, query: PlateQuery) -> tuple[list[PlateMatch], str]:
        """Reads matching a plate query, best score first then newest, with the next token."""
        check_range(query.start, query.end)
        cameras = cameras_in_scope(query.allowed_cameras, query.camera_ids)
        if cameras is not None and not cameras:
            return [], ""
        size, offset = page_size(query.page_size), decode_offset(query.page_token)
        matcher, where = self._plate_criteria(query)
        c = plate_reads.c
        where += [c.read_time >= query.start, c.read_time < query.end]
        # When the plate criterion is index-backed it is far more selective than the
        # cameras: hide camera_id from the planner (SQLite without ANALYZE picks the
        # camera index otherwise and scans every read of the week).
        camera = c.camera_id if matcher.scans else c.camera_id.concat("")
        where += _scope(camera, cameras)
        if query.regions:
            where.append(c.region.in_(list(query.regions)))
        if query.min_confidence > 0:
            where.append(c.confidence >= query.min_confidence)
        cap = FUZZY_SCAN_CAP if matcher.scans else CANDIDATE_CAP
        select = sa.select(plate_reads).where(*where).order_by(c.read_time.desc()).limit(cap + 1)
        async with self._db.transaction(readonly=True) as conn:
            rows = (await conn.execute(select)).all()
        if matcher.scans and len(rows) > cap:
            raise InvalidArgument(
                f"this plate search would scan more than {cap} reads (a wildcard without "
                "leading characters, or a fuzzy search beyond one edit); narrow the time "
                "range or cameras",
                field="time_range",
            )
        reads = [r for r in (_plate(row) for row in rows[:cap]) if _vehicle_matches(r, query)]
        matches = [m for m in (matcher.match(r) for r in reads) if m is not None]
        matches.sort(key=lambda m: (-m.score, -m.read.read_time.timestamp(), m.read.id))
        page = matches[offset : offset + size]
        more = offset + size < len(matches)
        return page, encode_offset(offset + size) if more else ""

    def _plate_criteria(self, query: PlateQuery) -> tuple[_Matcher, list[Any]]:
        c = plate_reads.c
        if query.mode is MatchMode.WILDCARD:
            pattern = plate_rules.parse_pattern(query.query)
            where = _prefix_range(c.plate, pattern.literal_prefix)
            scans = not pattern.literal_prefix
            matcher = _Matcher(pattern.text, lambda p: bool(pattern.regex.match(p)), 0, scans)
            return matcher, where
        plate = plate_rules.normalise(query.query)
        if query.mode is MatchMode.EXACT:
            return _Matcher(plate, lambda p: p == plate, 0), [c.plate == plate]
        if query.mode is MatchMode.PREFIX:
            return _Matcher(plate, lambda p: p.startswith(plate), 0), _prefix_range(c.plate, plate)
        if not 1 <= query.max_edits <= 3:
            raise InvalidArgument("max_edits must be 1 to 3", field="max_edits")
        folded = plate_rules.fold(plate)
        edits = query.max_edits

        def close(candidate: str) -> bool:
            return plate_rules.edits(plate, candidate) <= edits

        if edits == 1:
            near = sorted(plate_rules.one_edit_neighbourhood(folded))
            return _Matcher(plate, close, 1), [c.plate_folded.in_(near)]
        lengths = range(max(1, len(plate) - edits), len(plate) + edits + 1)
        where = [sa.func.length(c.plate).in_(list(lengths))]
        return _Matcher(plate, close, edits, scans=True), where


def _vehicle_matches(read: PlateReadRecord, query: PlateQuery) -> bool:
    """Vehicle colour/type criteria, on the candidates the plate criterion selected."""
    attributes = read.vehicle_attributes
    if query.colors:
        colours = {
            COLOR_CODES.get(attributes.get(k, ""), 0) for k in ("primary_color", "secondary_color")
        }
        if not colours & set(query.colors):
            return False
    if query.vehicle_types:
        if VEHICLE_TYPE_CODES.get(attributes.get("vehicle_type", ""), 0) not in query.vehicle_types:
            return False
    return True


def _prefix_range(column: sa.ColumnElement[str], prefix: str) -> list[Any]:
    if not prefix:
        return []
    return [column >= prefix, column < plate_rules.prefix_upper_bound(prefix)]


@dataclasses.dataclass(frozen=True)
class _Matcher:
    query: str
    accepts: Any
    max_edits: int
    scans: bool = False

    def match(self, read: PlateReadRecord) -> PlateMatch | None:
        if not self.accepts(read.plate):
            return None
        distance = plate_rules.edits(self.query, read.plate) if self.max_edits else 0
        confidences = [p for _, p in read.characters]
        query = self.query if self.max_edits else read.plate
        return PlateMatch(
            read, distance, plate_rules.score(query, read.plate, confidences, read.confidence)
        )
