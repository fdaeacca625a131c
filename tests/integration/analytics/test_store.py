"""The analytics store on SQLite and PostgreSQL: search, plate matching, access filtering."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from rtcc.analytics.plates import MatchMode
from rtcc.analytics.queries import EventQuery, PlateQuery
from rtcc.analytics.records import EventRecord, PlateReadRecord
from rtcc.analytics.store import AnalyticsStore
from rtcc.backends.database import Database
from rtcc.core.errors import InvalidArgument, NotFound

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
DAY = (T0 - timedelta(hours=1), T0 + timedelta(hours=23))


def _cam() -> str:
    return f"cam_{secrets.token_hex(6)}"


def _event(camera: str, minute: int, **fields: object) -> EventRecord:
    values: dict[str, object] = {
        "id": f"evt_{secrets.token_hex(8)}",
        "camera_id": camera,
        "organization_id": "org_a",
        "type": 1,
        "object_class": 2,
        "track_id": "1",
        "confidence": 0.8,
        "event_time": T0 + timedelta(minutes=minute),
        "start_time": T0 + timedelta(minutes=minute),
        "box": (0.1, 0.2, 0.3, 0.4),
    }
    values.update(fields)
    return EventRecord(**values)  # type: ignore[arg-type]


def _read(camera: str, plate: str, minute: int = 0, confidence: float = 0.9) -> PlateReadRecord:
    return PlateReadRecord(
        id=f"plr_{secrets.token_hex(8)}",
        camera_id=camera,
        organization_id="org_a",
        read_time=T0 + timedelta(minutes=minute),
        plate=plate,
        characters=[(c, confidence) for c in plate],
        confidence=confidence,
        box=(0.4, 0.6, 0.1, 0.05),
    )


async def _plates(
    store: AnalyticsStore, query: str, mode: MatchMode, cams: frozenset[str] | None, **kw: object
) -> list[str]:
    matches, _ = await store.search_plate_reads(
        PlateQuery(query, mode, *DAY, allowed_cameras=cams, **kw)  # type: ignore[arg-type]
    )
    return [m.read.plate for m in matches]


async def test_events_are_listed_newest_first_and_paged(database: Database) -> None:
    store, cam = AnalyticsStore(database), _cam()
    await store.add_events([_event(cam, m) for m in range(7)])
    seen: list[datetime] = []
    token = ""
    while True:
        page, token = await store.list_events(
            EventQuery(*DAY, frozenset({cam}), page_size=3, page_token=token)
        )
        seen += [e.event_time for e in page]
        if not token:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == 7


async def test_search_filters_by_class_colour_type_and_zone(database: Database) -> None:
    store, cam = AnalyticsStore(database), _cam()
    red_car = _event(cam, 1, primary_color=5, vehicle_type=1, zone_id="zon_1")
    blue_car = _event(cam, 2, primary_color=9, vehicle_type=1)
    person = _event(cam, 3, object_class=1, secondary_color=5)
    await store.add_events([red_car, blue_car, person])
    found, _ = await store.search_events(EventQuery(*DAY, frozenset({cam}), colors=[5]))
    assert {e.id for e in found} == {red_car.id, person.id}
    found, _ = await store.search_events(
        EventQuery(*DAY, frozenset({cam}), classes=[2], colors=[5])
    )
    assert [e.id for e in found] == [red_car.id]
    found, _ = await store.search_events(EventQuery(*DAY, frozenset({cam}), zone_ids=["zon_1"]))
    assert [e.id for e in found] == [red_car.id]


async def test_events_of_cameras_the_caller_may_not_see_are_left_out(database: Database) -> None:
    store, mine, theirs = AnalyticsStore(database), _cam(), _cam()
    await store.add_events([_event(mine, 1), _event(theirs, 2)])
    found, _ = await store.search_events(EventQuery(*DAY, frozenset({mine}), camera_ids=[theirs]))
    assert found == []
    found, _ = await store.search_events(EventQuery(*DAY, frozenset({mine})))
    assert {e.camera_id for e in found} == {mine}
    hidden = _event(theirs, 3)
    await store.add_events([hidden])
    with pytest.raises(NotFound):
        await store.get_event(hidden.id, frozenset({mine}))
    assert (await store.get_event(hidden.id, None)).id == hidden.id


async def test_list_events_refuses_a_range_over_31_days(database: Database) -> None:
    store = AnalyticsStore(database)
    with pytest.raises(InvalidArgument, match="31 days"):
        await store.list_events(EventQuery(T0, T0 + timedelta(days=40), None))


async def test_plate_exact_prefix_and_wildcard(database: Database) -> None:
    store, cam = AnalyticsStore(database), _cam()
    await store.add_plate_reads(
        [_read(cam, p) for p in ("7KX123", "7KX999", "7KY123", "A7KX12", "7KXQ12AB")]
    )
    cams = frozenset({cam})
    assert await _plates(store, "7kx-123", MatchMode.EXACT, cams) == ["7KX123"]
    assert sorted(await _plates(store, "7KX", MatchMode.PREFIX, cams)) == [
        "7KX123",
        "7KX999",
        "7KXQ12AB",
    ]
    assert sorted(await _plates(store, "7K?12*", MatchMode.WILDCARD, cams)) == [
        "7KX123",
        "7KY123",
    ]
    assert await _plates(store, "*X12", MatchMode.WILDCARD, cams) == ["A7KX12"]


async def test_fuzzy_plate_search_finds_ocr_confusions_and_one_edit(database: Database) -> None:
    store, cam = AnalyticsStore(database), _cam()
    await store.add_plate_reads(
        [_read(cam, p) for p in ("8OS123", "BO5123", "B0S12", "XYZ999", "BOS12", "B0S12345")]
    )
    cams = frozenset({cam})
    found = await _plates(store, "BOS123", MatchMode.FUZZY, cams)
    assert set(found) == {"8OS123", "BO5123", "B0S12", "BOS12"}
    matches, _ = await store.search_plate_reads(
        PlateQuery("BOS123", MatchMode.FUZZY, *DAY, allowed_cameras=cams)
    )
    assert [m.edit_distance for m in matches[:2]] == [0, 0]
    assert matches[0].score >= matches[-1].score
    wider = await _plates(store, "BOS123", MatchMode.FUZZY, cams, max_edits=2)
    assert set(wider) == {*found, "B0S12345"}


async def test_plate_search_honours_the_callers_cameras(database: Database) -> None:
    store, mine, theirs = AnalyticsStore(database), _cam(), _cam()
    await store.add_plate_reads([_read(mine, "HID123"), _read(theirs, "HID123")])
    matches, _ = await store.search_plate_reads(
        PlateQuery("HID123", MatchMode.EXACT, *DAY, allowed_cameras=frozenset({mine}))
    )
    assert [m.read.camera_id for m in matches] == [mine]
    assert await _plates(store, "HID123", MatchMode.EXACT, frozenset()) == []


@pytest.mark.parametrize("query", ["X'; DROP TABLE analytics_plate_reads;--", "%", "AB_"])
async def test_plate_queries_with_injection_characters_are_refused(
    database: Database, query: str
) -> None:
    with pytest.raises(InvalidArgument):
        await _plates(AnalyticsStore(database), query, MatchMode.EXACT, None)


async def test_plate_pages_follow_each_other(database: Database) -> None:
    store, cam = AnalyticsStore(database), _cam()
    await store.add_plate_reads([_read(cam, f"PG{i:03d}", minute=i) for i in range(5)])
    token, plates = "", []
    while True:
        matches, token = await store.search_plate_reads(
            PlateQuery(
                "PG", MatchMode.PREFIX, *DAY, frozenset({cam}), page_size=2, page_token=token
            )
        )
        plates += [m.read.plate for m in matches]
        if not token:
            break
    assert sorted(plates) == [f"PG{i:03d}" for i in range(5)]
    assert len(set(plates)) == 5


async def test_plate_reads_filter_by_the_vehicle_colour_and_type(database: Database) -> None:
    store, cam = AnalyticsStore(database), _cam()
    red_car, blue_bus = _read(cam, "VEH111"), _read(cam, "VEH112")
    red_car.vehicle_attributes = {"primary_color": "red", "vehicle_type": "car"}
    blue_bus.vehicle_attributes = {"primary_color": "blue", "vehicle_type": "bus"}
    await store.add_plate_reads([red_car, blue_bus])
    cams = frozenset({cam})
    assert await _plates(store, "VEH", MatchMode.PREFIX, cams, colors=[5]) == ["VEH111"]
    assert await _plates(store, "VEH", MatchMode.PREFIX, cams, vehicle_types=[6]) == ["VEH112"]


async def test_storing_an_event_or_read_again_keeps_the_first_row(database: Database) -> None:
    # A sink retrying after a bus publish timed out meets the rows it already committed.
    store, cam = AnalyticsStore(database), _cam()
    event, read = _event(cam, 1), _read(cam, "ABC123")
    await store.add_plate_reads([read])
    await store.add_events([event])
    await store.add_plate_reads([read])
    await store.add_events([dataclasses.replace(event, confidence=0.1), _event(cam, 2)])
    page, _ = await store.list_events(EventQuery(*DAY, frozenset({cam})))
    assert sorted((e.id, e.confidence) for e in page if e.id == event.id) == [(event.id, 0.8)]
    assert len(page) == 2
    assert await _plates(store, "ABC123", MatchMode.EXACT, frozenset({cam})) == ["ABC123"]
