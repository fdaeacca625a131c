"""Detector configuration: masks merge fields, validation, ids, mapping to rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.protobuf import duration_pb2

from rtcc.analytics import config
from rtcc.analytics.detection import ObjectClass
from rtcc.analytics.rules import Direction
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument


def _square(x: float = 0.5, size: float = 0.2) -> common_pb2.ImagePolygon:
    corners = [(x, x), (x + size, x), (x + size, x + size), (x, x + size)]
    return common_pb2.ImagePolygon(vertices=[common_pb2.ImagePoint(x=a, y=b) for a, b in corners])


def _zone(**kw: object) -> pb.Zone:
    return pb.Zone(polygon=_square(), **kw)  # type: ignore[arg-type]


def test_update_mask_changes_only_the_named_fields() -> None:
    stored = pb.DetectorConfig(camera_id="cam_1", enabled=True, fps=5, zones=[_zone(id="zon_a")])
    update = pb.DetectorConfig(camera_id="cam_1", enabled=False, fps=2)
    merged = config.merge(stored, update, ["fps"])
    assert merged.enabled and merged.fps == 2 and [z.id for z in merged.zones] == ["zon_a"]
    replaced = config.merge(stored, update, [])
    assert not replaced.enabled and list(replaced.zones) == []


def test_unknown_or_output_only_mask_paths_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="etag"):
        config.merge(pb.DetectorConfig(), pb.DetectorConfig(), ["etag"])


def test_zones_and_lines_get_ids_and_map_to_rules() -> None:
    dwell = duration_pb2.Duration(seconds=30)
    line = pb.Line(
        start=common_pb2.ImagePoint(x=0.5, y=0.0),
        end=common_pb2.ImagePoint(x=0.5, y=1.0),
        direction=pb.LINE_DIRECTION_LEFT_TO_RIGHT,
        classes=[pb.OBJECT_CLASS_VEHICLE],
    )
    valid = config.validate(pb.DetectorConfig(zones=[_zone(loiter_dwell=dwell)], lines=[line]))
    assert valid.zones[0].id.startswith("zon_") and valid.lines[0].id.startswith("lin_")
    (zone,) = config.zones(valid)
    assert zone.loiter_dwell == timedelta(seconds=30)
    (rule_line,) = config.lines(valid)
    assert rule_line.direction is Direction.LEFT_TO_RIGHT
    assert rule_line.classes == frozenset({ObjectClass.VEHICLE})


@pytest.mark.parametrize(
    "bad",
    [
        pb.DetectorConfig(fps=100),
        pb.DetectorConfig(min_confidence=1.5),
        pb.DetectorConfig(zones=[pb.Zone(polygon=_square(0.9, 0.3))]),
        pb.DetectorConfig(exclusions=[common_pb2.ImagePolygon()]),
        pb.DetectorConfig(
            lines=[pb.Line(start=common_pb2.ImagePoint(x=0.2), end=common_pb2.ImagePoint(x=0.2))]
        ),
        pb.DetectorConfig(
            zones=[_zone(schedule=common_pb2.WeeklySchedule(time_zone="Nowhere/Land"))]
        ),
    ],
)
def test_invalid_configs_are_refused(bad: pb.DetectorConfig) -> None:
    with pytest.raises(InvalidArgument):
        config.validate(bad)


def test_masks_join_exclusions_and_registry_privacy_masks() -> None:
    valid = pb.DetectorConfig(exclusions=[_square(0.1)])
    assert len(config.masks(valid, [_square(0.6)])) == 2
