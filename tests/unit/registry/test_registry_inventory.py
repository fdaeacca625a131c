"""Inventory files: every row reported, file-level problems refused, exports re-importable."""

from __future__ import annotations

import json

import pytest

from rtcc.core.errors import InvalidArgument
from rtcc.registry import inventory
from rtcc.registry.v1 import registry_pb2 as pb

CSV = pb.INVENTORY_FORMAT_CSV
GEOJSON = pb.INVENTORY_FORMAT_GEOJSON
HEADER = (
    "external_id,display_name,latitude,longitude,heading_degrees,angle_degrees,range_meters,"
    "main_url,username,password,tags,recording_mode,retention_days\n"
)


def parse_csv(body: str) -> list[inventory.InventoryRow]:
    return inventory.parse((HEADER + body).encode(), CSV, "org_city1")


def test_good_csv_rows_become_cameras_with_their_credentials() -> None:
    rows = parse_csv(
        "A-1,Pump 1,42.33,-83.04,90,60,40,rtsp://10.0.0.5/s,admin,s3cret,gas-station;24h,continuous,30\n"
        "A-2,Pump 2,42.34,-83.05,,,,,,,,,\n"
    )
    assert [r.row for r in rows] == [1, 2] and all(r.camera for r in rows)
    first = rows[0].camera
    assert first is not None
    assert first.organization_id == "org_city1" and first.external_id == "A-1"
    assert first.field_of_view.range_meters == 40
    assert first.streams.credentials.password == "s3cret"
    assert list(first.tags) == ["gas-station", "24h"]
    assert first.recording_policy.mode == pb.RECORDING_MODE_CONTINUOUS
    assert rows[1].camera is not None and not rows[1].camera.HasField("field_of_view")


def test_each_bad_row_names_its_column_and_the_good_rows_still_parse() -> None:
    rows = parse_csv(
        "B-1,Ok,42.33,-83.04,,,,,,,,,\n"
        "B-2,Bad lat,97,-83.04,,,,,,,,,\n"
        "B-3,Bad number,42.3,east,,,,,,,,,\n"
        "B-4,Bad url,42.3,-83.0,,,,http://x/y,,,,,\n"
        "B-5,Half a view,42.3,-83.0,90,,,,,,,,\n"
        "B-6,Bad mode,42.3,-83.0,,,,,,,,sometimes,\n"
        "B-1,Repeat,42.3,-83.0,,,,,,,,,\n"
        ",,42.3,-83.0,,,,,,,,,\n"
    )
    assert rows[0].camera is not None
    rejected = {r.row: r.field for r in rows if r.camera is None}
    assert rejected == {
        2: "latitude",
        3: "longitude",
        4: "main_url",
        5: "angle_degrees",
        6: "recording_mode",
        7: "external_id",
        8: "display_name",
    }
    assert "repeats row 1" in rows[6].message


def test_duplicate_stream_url_within_a_file_is_rejected() -> None:
    rows = parse_csv("C-1,a,42.3,-83.0,,,,rtsp://h/s,,,,,\nC-2,b,42.3,-83.0,,,,rtsp://h/s,,,,,\n")
    assert rows[0].camera is not None and rows[1].field == "main_url"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"display_name,lattitude,longitude\nx,1,2\n", "unknown columns lattitude"),
        (b"display_name,latitude\nx,1\n", "lacks the columns longitude"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_file_level_problems_refuse_the_whole_file(content: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as err:
        inventory.parse(content, CSV, "org_city1")
    assert err.value.field == "content"


def test_unspecified_format_is_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        inventory.parse(b"", pb.INVENTORY_FORMAT_UNSPECIFIED, "org_city1")
    assert err.value.field == "format"


def test_geojson_points_become_cameras_and_bad_features_are_reported() -> None:
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-83.04, 42.33]},
                "properties": {
                    "display_name": "Corner",
                    "tags": ["school"],
                    "range_meters": 30,
                    "heading_degrees": 0,
                    "angle_degrees": 90,
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": []},
                "properties": {"display_name": "Line"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-83.04, 42.33]},
                "properties": {"display_name": "No view", "range_meters": "far"},
            },
        ],
    }
    rows = inventory.parse(json.dumps(document).encode(), GEOJSON, "org_city1")
    assert rows[0].camera is not None and rows[0].camera.location.longitude == -83.04
    assert (rows[1].row, rows[1].field) == (2, "geometry")
    assert (rows[2].row, rows[2].field) == (3, "range_meters")


def test_csv_and_geojson_exports_reimport_to_the_same_cameras_without_credentials() -> None:
    rows = parse_csv(
        "E-1,Pump 1,42.33,-83.04,90,60,40,rtsp://10.0.0.5/s,admin,s3cret,gas-station,event_only,14\n"
        "E-2,Pump 2,42.34,-83.05,,,,,,,,,\n"
    )
    cameras = [r.camera for r in rows if r.camera]
    for fmt in (CSV, GEOJSON):
        content, _ = inventory.export(cameras, fmt)
        assert b"s3cret" not in content and b"admin" not in content
        again = [r.camera for r in inventory.parse(content, fmt, "org_city1")]
        for before, after in zip(cameras, again, strict=True):
            assert after is not None
            before_copy = pb.Camera()
            before_copy.CopyFrom(before)
            before_copy.streams.ClearField("credentials")
            assert after == before_copy
