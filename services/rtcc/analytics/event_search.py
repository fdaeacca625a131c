"""The SQL of event search: newest first over many cameras, bounded by merging branches.

A search asks for the newest ``size`` events in a time range on a set of visible
cameras. Walking ``(event_time)`` newest first and dropping other cameras' rows reads
rows in proportion to how rare the caller's cameras and criteria are, and the planner's
guess at that rarity decides between that walk and reading the whole range and sorting
it: both slow tails. Instead the query is cut into *branches*, one per visible camera
(and per event type when types are asked for), each an ordered range of one index:

    camera_id = :c [AND type = :t] AND :start <= event_time < :end
      [AND (event_time, id) before the page token] AND <the other criteria>
    ORDER BY event_time DESC, id DESC LIMIT size + 1

and the UNION ALL of the branches is ordered and limited again. The newest ``size + 1``
rows overall hold at most ``size + 1`` of any branch, so the result (and the page token
taken from it) is exactly that of the single query; ties on ``event_time`` are broken by
``id`` in both. PostgreSQL runs it as a Merge Append that pulls rows from the branches
only as the outer limit needs them. On SQLite the branches carry no LIMIT of their own:
the compound's ORDER BY ... LIMIT merges them, each read in order from its index, as far
as the page needs (a LIMIT per branch would make it compute and sort each one first).

Indexes (revision ``0009_events_search``): ``(camera_id, event_time, id, ...)`` and
``(camera_id, type, event_time, id, ...)``, ending in the criteria columns so that a
branch checks them on index entries (on PostgreSQL an index-only scan once vacuumed)
and reads only the rows of the page. Past ``MAX_BRANCHES`` the type split is dropped
(type becomes a filter in each camera's branch), and past that many cameras, or with no
camera restriction, the single query walks ``(event_time)``: with that many cameras a
large share of all rows is visible, and the walk finds the newest of them quickly.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from rtcc.analytics.queries import EventQuery
from rtcc.analytics.tables import events

# Most branches in one statement: planning time grows with them (about 50 µs each on
# PostgreSQL), and beyond some hundreds of cameras the time walk is as good.
MAX_BRANCHES = 120


class Shape(enum.Enum):
    """How a search is cut into branches."""

    TIME_WALK = "time walk"  # one query over (event_time), cameras as a filter
    PER_CAMERA = "per camera"  # a branch per camera over (camera_id, event_time, id)
    PER_CAMERA_TYPE = "per camera and type"  # over (camera_id, type, event_time, id)


def shape(cameras: frozenset[str] | None, types: Collection[int]) -> Shape:
    """The shape a search over ``cameras`` (None: unrestricted) with ``types`` takes."""
    if cameras is None or len(cameras) > MAX_BRANCHES:
        return Shape.TIME_WALK
    if types and len(cameras) * len(set(types)) <= MAX_BRANCHES:
        return Shape.PER_CAMERA_TYPE
    return Shape.PER_CAMERA


def statement(
    query: EventQuery,
    cameras: frozenset[str] | None,
    size: int,
    after: tuple[datetime, str] | None,
    chosen: Shape | None = None,
    *,
    dialect: str = "postgresql",
) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The select for one page (``size`` rows and one more, to tell whether more follow)
    and its parameters, for ``dialect`` ("postgresql" or "sqlite").

    ``chosen`` overrides ``shape()`` (benchmarks compare shapes on the same data).
    """
    chosen = chosen or shape(cameras, query.types)
    if chosen is not Shape.TIME_WALK and cameras is None:
        raise ValueError(f"a search {chosen.value} needs its cameras")
    if chosen is Shape.PER_CAMERA_TYPE and not query.types:
        raise ValueError("a search per camera and type needs types")
    params: dict[str, Any] = {"start": query.start, "end": query.end}
    for name in _LISTS:
        if values := getattr(query, name):
            params[name] = sorted(set(values))
    if query.min_confidence > 0:
        params["min_confidence"] = query.min_confidence
    if after is not None:
        params["after_time"], params["after_id"] = after
        if after[0] < query.end:
            # The token's time is then the range's upper end (inclusive: ties go on by
            # id), so that each page reads its index range from where the last stopped.
            params["until"] = after[0]
            del params["end"]
    ordered = sorted(cameras) if cameras is not None else []
    if chosen is Shape.PER_CAMERA_TYPE:
        types = params.pop("types")
        pairs = [(camera, kind) for camera in ordered for kind in types]
        params.update({f"camera_{i}": camera for i, (camera, _) in enumerate(pairs)})
        params.update({f"type_{i}": kind for i, (_, kind) in enumerate(pairs)})
        branches = len(pairs)
    elif chosen is Shape.PER_CAMERA:
        params.update({f"camera_{i}": camera for i, camera in enumerate(ordered)})
        branches = len(ordered)
    else:
        if cameras is not None:
            params["cameras"] = ordered
        branches = 0
    criteria = frozenset(params) - {f"camera_{i}" for i in range(branches)}
    criteria -= {f"type_{i}" for i in range(branches)}
    return _template(chosen, branches, criteria, size, dialect == "sqlite"), params


# Criteria given as lists of values: each becomes one expanding IN parameter.
_LISTS = ("classes", "types", "vehicle_types", "zone_ids", "colors")


@functools.lru_cache(maxsize=512)
def _template(
    chosen: Shape, branches: int, criteria: frozenset[str], size: int, sqlite: bool
) -> sa.Select[Any]:
    """The statement for a shape, a number of branches and the criteria present.

    Built once and reused: building a statement of a hundred branches costs more than
    running it, and a reused statement is also SQLAlchemy's and the server's cached plan.
    """
    c = events.c
    common = _criteria(criteria)
    if chosen is Shape.TIME_WALK:
        where = [*common]
        if "cameras" in criteria:
            where.append(c.camera_id.in_(sa.bindparam("cameras", expanding=True)))
        return _newest(sa.select(events).where(*where), c, size)
    keys: list[list[Any]] = []
    for i in range(branches):
        key = [c.camera_id == sa.bindparam(f"camera_{i}", type_=c.camera_id.type)]
        if chosen is Shape.PER_CAMERA_TYPE:
            key.append(c.type == sa.bindparam(f"type_{i}", type_=c.type.type))
        keys.append(key)
    # Branches carry only the sort keys (on PostgreSQL an index-only scan where no other
    # criterion needs the row); the page's rows are joined on by id.
    if sqlite:
        # SQLite merges a compound's terms in its ORDER BY, each term read in that order
        # (here from its index, no sort) and only as far as the LIMIT needs; a LIMIT per
        # term would make it compute and sort every term's rows first.
        terms = [sa.select(c.event_time, c.id).where(*key, *common) for key in keys]
        merged: Any = sa.union_all(*terms) if len(terms) > 1 else terms[0]
        page = merged.order_by(sa.desc("event_time"), sa.desc("id"))
        page = page.limit(size + 1).subquery()
        return _newest(sa.select(events).join(page, c.id == page.c.id), page.c, size)
    # PostgreSQL: each term keeps its ORDER BY/LIMIT inside a subquery (as measured in
    # BENCHMARKS.md), and the Merge Append over them pulls rows only as the outer LIMIT
    # needs them.
    keyed = [
        _newest(sa.select(c.event_time, c.id).where(*key, *common), c, size).subquery()
        for key in keys
    ]
    if len(keyed) == 1:
        top = keyed[0]
    else:
        union = sa.union_all(*(sa.select(k.c.event_time, k.c.id) for k in keyed)).subquery()
        top = _newest(sa.select(union.c.event_time, union.c.id), union.c, size).subquery()
    return _newest(sa.select(events).join(top, c.id == top.c.id), top.c, size)


def _newest(select: sa.Select[Any], columns: Any, size: int) -> sa.Select[Any]:
    return select.order_by(columns.event_time.desc(), columns.id.desc()).limit(size + 1)


def _criteria(present: frozenset[str]) -> list[Any]:
    """The conditions on time and on every criterion present but cameras."""
    c = events.c

    def values(name: str) -> Any:
        return sa.bindparam(name, expanding=True)

    # One lower and one upper bound on event_time: SQLite (which plans without
    # statistics) then weighs the indexes by their equality columns alone.
    where: list[Any] = [c.event_time >= sa.bindparam("start")]
    if "until" in present:
        where.append(c.event_time <= sa.bindparam("until"))
    else:
        where.append(c.event_time < sa.bindparam("end"))
    for column, name in (
        (c.object_class, "classes"),
        (c.type, "types"),
        (c.vehicle_type, "vehicle_types"),
        (c.zone_id, "zone_ids"),
    ):
        if name in present:
            where.append(column.in_(values(name)))
    if "colors" in present:
        where.append(
            sa.or_(c.primary_color.in_(values("colors")), c.secondary_color.in_(values("colors")))
        )
    if "min_confidence" in present:
        where.append(c.confidence >= sa.bindparam("min_confidence"))
    if "after_time" in present:
        after_time: Any = sa.bindparam("after_time")
        where.append(sa.or_(c.event_time < after_time, c.id < sa.bindparam("after_id")))
    return where
