"""Privacy masks, dominant colours and vehicle type."""

from __future__ import annotations

import numpy as np
import pytest

from rtcc.analytics.attributes import describe, dominant_colour
from rtcc.analytics.detection import Detection, ObjectClass
from rtcc.analytics.masks import blank_masked, outside_masks

LEFT_HALF = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))


def test_detections_inside_a_privacy_mask_are_suppressed() -> None:
    inside = Detection(ObjectClass.PERSON, 0.9, (10, 10, 50, 90))
    outside = Detection(ObjectClass.PERSON, 0.9, (150, 10, 190, 90))
    assert outside_masks([inside, outside], [LEFT_HALF], 200, 100) == [outside]


def test_masked_pixels_are_blanked_in_a_copy() -> None:
    frame = np.full((100, 200, 3), 200, np.uint8)
    blanked = blank_masked(frame, [LEFT_HALF])
    assert blanked[50, 20].tolist() == [0, 0, 0]
    assert blanked[50, 180].tolist() == [200, 200, 200]
    assert frame[50, 20].tolist() == [200, 200, 200]


@pytest.mark.parametrize(
    ("bgr", "name"),
    [
        ((0, 0, 200), "red"),
        ((200, 60, 0), "blue"),
        ((0, 180, 0), "green"),
        ((0, 220, 230), "yellow"),
        ((0, 120, 255), "orange"),
        ((255, 255, 255), "white"),
        ((15, 15, 15), "black"),
        ((100, 100, 100), "gray"),
        ((170, 170, 170), "silver"),
    ],
)
def test_dominant_colour_names_plain_colours(bgr: tuple[int, int, int], name: str) -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:] = bgr
    assert dominant_colour(frame, (0, 0, 100, 100)) == name


def test_person_colours_are_upper_and_lower_clothing() -> None:
    frame = np.zeros((200, 100, 3), np.uint8)
    frame[:100] = (0, 0, 200)
    frame[100:] = (200, 60, 0)
    person = Detection(ObjectClass.PERSON, 0.9, (0, 0, 100, 200))
    assert describe(frame, person) == {"primary_color": "red", "secondary_color": "blue"}


def test_vehicle_keeps_its_type() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    bus = Detection(ObjectClass.VEHICLE, 0.9, (0, 0, 100, 100), {"vehicle_type": "bus"})
    assert describe(frame, bus) == {"primary_color": "black", "vehicle_type": "bus"}
