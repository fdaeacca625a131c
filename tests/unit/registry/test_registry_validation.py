"""Bad input is refused with InvalidArgument naming the field at fault."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from google.protobuf import field_mask_pb2

from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument
from rtcc.registry import validation
from rtcc.registry.v1 import registry_pb2 as pb


def camera(**kw: object) -> pb.Camera:
    values: dict[str, object] = {
        "organization_id": "org_shop1",
        "display_name": "Pump 3",
        "location": {"latitude": 42.33, "longitude": -83.04},
    }
    values.update(kw)
    return pb.Camera(**values)  # type: ignore[arg-type]


def field_of(check: Callable[[], object]) -> str:
    with pytest.raises(InvalidArgument) as err:
        check()
    return err.value.field or ""


def square(*points: tuple[float, float]) -> common_pb2.ImagePolygon:
    return common_pb2.ImagePolygon(vertices=[{"x": x, "y": y} for x, y in points])


def test_a_complete_camera_passes_and_its_tags_are_normalised() -> None:
    cam = camera(tags=["Gas-Station", "school", "gas-station"])
    validation.camera(cam)
    assert list(cam.tags) == ["gas-station", "school"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"location": {"latitude": 91, "longitude": 0}}, "camera.location.latitude"),
        ({"location": {"latitude": 10, "longitude": -181}}, "camera.location.longitude"),
        ({"location": {"latitude": math.nan, "longitude": 1}}, "camera.location.latitude"),
        ({"location": {"latitude": 0, "longitude": 0}}, "camera.location"),
        ({"location": None}, "camera.location"),
        ({"display_name": "  "}, "camera.display_name"),
        ({"organization_id": "shop"}, "camera.organization_id"),
        ({"streams": {"main_url": "http://cam/stream"}}, "camera.streams.main_url"),
        ({"streams": {"main_url": "rtsp://admin:pw@10.0.0.5/s"}}, "camera.streams.main_url"),
        ({"streams": {"main_url": "rtsp:///nohost"}}, "camera.streams.main_url"),
        ({"streams": {"main_url": "rtsp://cam:99999/s"}}, "camera.streams.main_url"),
        ({"streams": {"sub_url": "rtsp://cam/sub"}}, "camera.streams.main_url"),
        (
            {"streams": {"main_url": "rtsp://c/a", "sub_url": "rtsp://c/ b"}},
            "camera.streams.sub_url",
        ),
        (
            {"field_of_view": {"heading_degrees": 360, "angle_degrees": 60, "range_meters": 5}},
            "camera.field_of_view.heading_degrees",
        ),
        (
            {"field_of_view": {"heading_degrees": 0, "angle_degrees": 0, "range_meters": 5}},
            "camera.field_of_view.angle_degrees",
        ),
        (
            {"field_of_view": {"heading_degrees": 0, "angle_degrees": 90, "range_meters": 0}},
            "camera.field_of_view.range_meters",
        ),
        ({"tags": ["ok", "not ok"]}, "camera.tags[1]"),
        ({"recording_policy": {"retention_days": 4000}}, "camera.recording_policy.retention_days"),
    ],
)
def test_bad_camera_fields_are_named(kw: dict[str, object], field: str) -> None:
    cam = camera(**{k: v for k, v in kw.items() if v is not None})
    if kw.get("location", 1) is None:
        cam.ClearField("location")
    assert field_of(lambda: validation.camera(cam)) == field


def test_rtsps_url_with_port_and_query_is_accepted() -> None:
    validation.rtsp_url("rtsps://cam.example:322/live?channel=1", "u")


@pytest.mark.parametrize(
    ("polygon", "field"),
    [
        (square((0, 0), (1, 0)), "m"),  # two vertices
        (square((0, 0), (1, 0), (1, 0)), "m"),  # two distinct
        (square((0, 0), (0.5, 0.5), (1, 1)), "m"),  # collinear: no area
        (square((0, 0), (1, 1), (1, 0), (0, 1)), "m"),  # a bow tie: edges cross
        (square((0, 0), (1.2, 0), (1, 1)), "m.vertices[1]"),  # outside the frame
    ],
)
def test_privacy_mask_must_close_into_a_simple_polygon(
    polygon: common_pb2.ImagePolygon, field: str
) -> None:
    assert field_of(lambda: validation.polygon(polygon, "m")) == field


def test_explicitly_closed_ring_is_accepted() -> None:
    validation.polygon(square((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)), "m")
    validation.polygon(square((0.1, 0.1), (0.9, 0.1), (0.5, 0.8)), "m")


def grant(**kw: object) -> pb.SharingGrant:
    values: dict[str, object] = {
        "grantor_organization_id": "org_shop1",
        "grantee_organization_id": "org_pd1",
        "all_cameras": True,
        "live": True,
    }
    values.update(kw)
    return pb.SharingGrant(**values)  # type: ignore[arg-type]


def window(start: int, end: int, days: tuple[int, ...] = ()) -> dict[str, object]:
    return {"days": list(days), "start": {"hours": start}, "end": {"hours": end}}


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"grantee_organization_id": "org_shop1"}, "grant.grantee_organization_id"),
        ({"live": False}, "grant.live"),
        ({"camera_ids": ["cam_abc1"]}, "grant.camera_ids"),
        ({"all_cameras": False}, "grant.camera_ids"),
        ({"all_cameras": False, "camera_ids": ["cam_abc1", "bad"]}, "grant.camera_ids[1]"),
        (
            {"schedule": {"time_zone": "Mars/Olympus", "windows": [window(22, 6)]}},
            "grant.schedule.time_zone",
        ),
        ({"schedule": {"time_zone": "UTC"}}, "grant.schedule.windows"),
        (
            {"schedule": {"time_zone": "UTC", "windows": [window(6, 6)]}},
            "grant.schedule.windows[0].end",
        ),
        (
            {"schedule": {"time_zone": "UTC", "windows": [window(22, 25)]}},
            "grant.schedule.windows[0].end",
        ),
        ({"start_time": {"seconds": 100}, "expire_time": {"seconds": 50}}, "grant.expire_time"),
    ],
)
def test_bad_grant_fields_are_named(kw: dict[str, object], field: str) -> None:
    assert field_of(lambda: validation.grant(grant(**kw))) == field


def test_overnight_schedule_on_given_days_is_valid() -> None:
    validation.grant(
        grant(schedule={"time_zone": "America/Detroit", "windows": [window(22, 6, (5, 6))]})
    )


def test_update_mask_is_required_and_limited_to_known_paths() -> None:
    assert (
        field_of(lambda: validation.update_mask(field_mask_pb2.FieldMask(), ["a"])) == "update_mask"
    )
    mask = field_mask_pb2.FieldMask(paths=["a", "b"])
    assert field_of(lambda: validation.update_mask(mask, ["a"])) == "update_mask"
    assert validation.update_mask(field_mask_pb2.FieldMask(paths=["a"]), ["a"]) == ["a"]


def test_page_size_defaults_and_bounds() -> None:
    assert validation.page_size(0) == 100
    # The platform's one page-size rule (rtcc.common.paging): too large is capped.
    assert validation.page_size(5000) == 1000
    assert field_of(lambda: validation.page_size(-1)) == "page_size"
