"""Event search's query shapes (rtcc.analytics.event_search) on SQLite and PostgreSQL.

Every shape must return exactly what a brute-force filter of the same rows returns,
page after page, including runs of events with equal times split across pages.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from rtcc.analytics import event_search
from rtcc.analytics.event_search import MAX_BRANCHES, Shape
from rtcc.analytics.queries import EventQuery, cameras_in_scope
from rtcc.analytics.records import EventRecord
from rtcc.analytics.store import AnalyticsStore
from rtcc.backends.database import Database, open_database
from rtcc.migrations import alembic_config

# Each test keeps to its own hours so that unrestricted searches see only its rows.
T0 = datetime(2031, 5, 1, tzinfo=UTC)
CAMERAS = 130  # more than MAX_BRANCHES, so that every shape can be asked for
assert CAMERAS > MAX_BRANCHES


def _events(rng: random.Random, cameras: Sequence[str], n: int, t0: datetime) -> list[EventRecord]:
    """Events on a coarse grid of times (many ties) with every criterion varied."""
    return [
        EventRecord(
            id=f"evt_{secrets.token_hex(8)}",
            camera_id=rng.choice(cameras),
            organization_id="org_a",
            type=rng.randint(1, 4),
            object_class=rng.randint(1, 3),
            track_id="1",
            confidence=rng.choice((0.3, 0.6, 0.9)),
            event_time=t0 + timedelta(minutes=rng.randrange(40)),
            start_time=t0,
            box=(0.1, 0.2, 0.3, 0.4),
            primary_color=rng.randint(0, 5),
            secondary_color=rng.randint(0, 5),
            vehicle_type=rng.randint(0, 2),
            zone_id=rng.choice(("", "zon_a", "zon_b")),
        )
        for _ in range(n)
    ]


def _brute_force(rows: Sequence[EventRecord], q: EventQuery) -> list[str]:
    cameras = cameras_in_scope(q.allowed_cameras, q.camera_ids)

    def keep(e: EventRecord) -> bool:
        return (
            q.start <= e.event_time < q.end
            and (cameras is None or e.camera_id in cameras)
            and (not q.classes or e.object_class in q.classes)
            and (not q.types or e.type in q.types)
            and (not q.vehicle_types or e.vehicle_type in q.vehicle_types)
            and (not q.zone_ids or e.zone_id in q.zone_ids)
            and (not q.colors or bool({e.primary_color, e.secondary_color} & set(q.colors)))
            and e.confidence >= q.min_confidence
        )

    found = sorted((e for e in rows if keep(e)), key=lambda e: (e.event_time, e.id), reverse=True)
    return [e.id for e in found]


async def _every_page(store: AnalyticsStore, query: EventQuery) -> list[str]:
    seen: list[str] = []
    token = query.page_token
    while True:
        page, token = await store.search_events(EventQuery(**{**vars(query), "page_token": token}))
        assert len(page) <= query.page_size
        seen += [e.id for e in page]
        if not token:
            return seen
        assert len(page) == query.page_size


def _random_query(rng: random.Random, cameras: list[str], t0: datetime) -> EventQuery:
    visible: frozenset[str] | None = None
    pick = rng.random()
    if pick < 0.15:
        visible = None
    elif pick < 0.3:
        visible = frozenset(rng.sample(cameras, MAX_BRANCHES + 5))
    elif pick < 0.5:
        visible = frozenset(rng.sample(cameras, 70))
    else:
        visible = frozenset(rng.sample(cameras, rng.randint(1, 12)))
    start = t0 + timedelta(minutes=rng.randrange(10))

    def some(values: Sequence[object], chance: float) -> list[object]:
        return rng.sample(list(values), rng.randint(1, 2)) if rng.random() < chance else []

    return EventQuery(
        start,
        start + timedelta(minutes=rng.randint(5, 40)),
        visible,
        camera_ids=rng.sample(cameras, 8) if rng.random() < 0.1 else (),
        classes=some((1, 2, 3), 0.3),  # type: ignore[arg-type]
        types=some((1, 2, 3, 4), 0.5),  # type: ignore[arg-type]
        colors=some((1, 2, 3, 4, 5), 0.2),  # type: ignore[arg-type]
        vehicle_types=some((0, 1, 2), 0.15),  # type: ignore[arg-type]
        zone_ids=some(("zon_a", "zon_b"), 0.1),  # type: ignore[arg-type]
        min_confidence=rng.choice((0.0, 0.0, 0.5)),
        page_size=rng.choice((3, 7, 20, 100)),
    )


async def test_every_shape_pages_exactly_like_a_brute_force_filter(database: Database) -> None:
    rng, store = random.Random(14), AnalyticsStore(database)
    cameras = [f"cam_{i:03d}_{secrets.token_hex(3)}" for i in range(CAMERAS)]
    rows = _events(rng, cameras, 1500, T0)
    await store.add_events(rows)
    shapes = []
    for _ in range(30):
        query = _random_query(rng, cameras, T0)
        scope = cameras_in_scope(query.allowed_cameras, query.camera_ids)
        shapes.append(event_search.shape(scope, query.types))
        assert await _every_page(store, query) == _brute_force(rows, query), query
    assert set(shapes) == set(Shape)


async def test_pages_split_runs_of_equal_times_across_cameras(database: Database) -> None:
    t0, store = T0 + timedelta(hours=3), AnalyticsStore(database)
    rng = random.Random(3)
    cameras = [f"cam_tie_{i}_{secrets.token_hex(3)}" for i in range(5)]
    # 60 events at only three distinct times, spread over the cameras.
    rows = _events(rng, cameras, 60, t0)
    for i, row in enumerate(rows):
        row.event_time = t0 + timedelta(seconds=i % 3)
        row.type = 1 + i % 2
    await store.add_events(rows)
    end = t0 + timedelta(minutes=1)
    for types in ([], [1], [1, 2]):
        for size in (1, 4, 7):
            query = EventQuery(t0, end, frozenset(cameras), types=types, page_size=size)
            found = await _every_page(store, query)
            assert found == _brute_force(rows, query)
            assert len(set(found)) == len(found) == sum(not types or r.type in types for r in rows)


async def test_a_page_token_keeps_its_place_when_newer_events_arrive(database: Database) -> None:
    t0, store = T0 + timedelta(hours=6), AnalyticsStore(database)
    rng = random.Random(5)
    cameras = [f"cam_new_{i}_{secrets.token_hex(3)}" for i in range(4)]
    rows = _events(rng, cameras, 50, t0)
    await store.add_events(rows)
    query = EventQuery(t0, t0 + timedelta(hours=1), frozenset(cameras), page_size=10)
    first, token = await store.search_events(query)
    newer = _events(rng, cameras, 10, t0 + timedelta(minutes=45))
    await store.add_events(newer)
    rest = await _every_page(store, EventQuery(**{**vars(query), "page_token": token}))
    assert [e.id for e in first] + rest == _brute_force(rows, query)


async def test_a_token_newer_than_the_range_end_continues_inside_the_range(
    database: Database,
) -> None:
    t0, store = T0 + timedelta(hours=9), AnalyticsStore(database)
    cameras = [f"cam_end_{i}_{secrets.token_hex(3)}" for i in range(3)]
    rows = _events(random.Random(8), cameras, 40, t0)
    await store.add_events(rows)
    wide = EventQuery(t0, t0 + timedelta(hours=1), frozenset(cameras), page_size=5)
    first, token = await store.search_events(wide)
    narrow = EventQuery(**{**vars(wide), "end": t0 + timedelta(minutes=20), "page_token": token})
    assert first[-1].event_time >= narrow.end
    assert await _every_page(store, narrow) == _brute_force(rows, narrow)


async def test_the_search_indexes_are_reversible(database: Database) -> None:
    config = alembic_config(database.engine.url)

    async def indexes() -> set[str]:
        async with database.transaction(readonly=True) as conn:
            found = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("analytics_events"))
        return {str(i["name"]) for i in found}

    new = {"ix_analytics_events_camera_time_id", "ix_analytics_events_camera_type_time_id"}
    assert new <= await indexes()
    await asyncio.to_thread(command.downgrade, config, "events_search@-1")
    after_downgrade = await indexes()
    assert not new & after_downgrade and "ix_analytics_events_camera_time" in after_downgrade
    await asyncio.to_thread(command.upgrade, config, "heads")
    assert new <= await indexes() and "ix_analytics_events_camera_time" not in await indexes()


@pytest.fixture
async def sqlite(tmp_path: object) -> AsyncIterator[Database]:
    db = await open_database(f"sqlite:///{tmp_path}/plan.db")
    try:
        await db.migrate()
        yield db
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("types", "index"),
    [([], "ix_analytics_events_camera_time_id"), ([4], "ix_analytics_events_camera_type_time_id")],
)
async def test_sqlite_reads_each_branch_from_its_index_in_order(
    sqlite: Database, types: list[int], index: str
) -> None:
    # SQLite plans without statistics (the service never runs ANALYZE): the branches must
    # still be index ranges read in search order, with no sort of a camera's rows.
    cameras = frozenset({"cam_a", "cam_b", "cam_c"})
    query = EventQuery(T0, T0 + timedelta(days=7), cameras, types=types, classes=[1])
    select, params = event_search.statement(query, cameras, 100, (T0, "evt_x"), dialect="sqlite")
    state = select.compile(dialect=sqlite.engine.dialect).construct_expanded_state(params)
    args = [state.parameters[name] for name in state.positiontup or ()]
    text = [a.replace(tzinfo=None).isoformat(" ") if isinstance(a, datetime) else a for a in args]
    async with sqlite.transaction(readonly=True) as conn:
        result = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + state.statement, tuple(text))
        plan = [(int(row[0]), int(row[1]), str(row[-1])) for row in result]
    branches = [
        line for _, _, line in plan if "analytics_events USING" in line and "(id=?)" not in line
    ]
    assert len(branches) == len(cameras) * max(1, len(types)), plan
    assert all(f"INDEX {index} (camera_id=?" in line for line in branches), plan
    # No branch sorts its camera's rows: the merge reads each index range in search
    # order; the only sort is of the page's own rows, at the top.
    sorts = [(parent, line) for _, parent, line in plan if "TEMP B-TREE" in line]
    assert sorts == [(0, "USE TEMP B-TREE FOR ORDER BY")], plan
