"""Appearance attributes: dominant colour by HSV bins, vehicle type. Pure numpy/cv2."""

from __future__ import annotations

import cv2
import numpy as np

from rtcc.analytics.detection import Box, Detection, Frame, ObjectClass

# Named colours, in the API's Color names (lower case).
COLOURS = (
    "black", "white", "gray", "silver", "red", "orange", "yellow",
    "green", "blue", "purple", "pink", "brown", "beige",
)  # fmt: skip


def _pixel_colours(hsv: np.ndarray) -> np.ndarray:
    """Index into COLOURS for every pixel of an HSV (OpenCV ranges) image."""
    h = hsv[..., 0].astype(np.int32)
    s = hsv[..., 1].astype(np.int32)
    v = hsv[..., 2].astype(np.int32)
    out = np.full(h.shape, COLOURS.index("gray"), np.int32)
    chromatic = s >= 60
    hue_bins = [
        (0, 8, "red"), (8, 20, "orange"), (20, 34, "yellow"), (34, 85, "green"),
        (85, 130, "blue"), (130, 150, "purple"), (150, 170, "pink"), (170, 181, "red"),
    ]  # fmt: skip
    for low, high, name in hue_bins:
        out[chromatic & (h >= low) & (h < high)] = COLOURS.index(name)
    out[chromatic & (h >= 8) & (h < 25) & (v < 140)] = COLOURS.index("brown")
    out[(s >= 25) & (s < 60) & (h >= 10) & (h < 30) & (v >= 140)] = COLOURS.index("beige")
    grey = s < 25
    out[grey & (v >= 200)] = COLOURS.index("white")
    out[grey & (v >= 140) & (v < 200)] = COLOURS.index("silver")
    out[v < 50] = COLOURS.index("black")
    return out


def dominant_colour(frame: Frame, box: Box) -> str:
    """The most frequent named colour in the central part of a box; "" when empty."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    # The central 60 % holds the object more than its background.
    dx, dy = (x2 - x1) * 0.2, (y2 - y1) * 0.2
    xa, ya = max(0, int(x1 + dx)), max(0, int(y1 + dy))
    xb, yb = min(width, int(x2 - dx)), min(height, int(y2 - dy))
    if xb - xa < 2 or yb - ya < 2:
        return ""
    crop: np.ndarray = frame[ya:yb, xa:xb]
    if crop.shape[0] * crop.shape[1] > 64 * 64:
        crop = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    counts = np.bincount(_pixel_colours(cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)).ravel())
    return COLOURS[int(counts.argmax())]


def describe(frame: Frame, detection: Detection) -> dict[str, str]:
    """Colours (and vehicle type) of a person, vehicle or bicycle detection."""
    x1, y1, x2, y2 = detection.box
    if detection.cls is ObjectClass.PERSON:
        # Upper clothing is primary, lower clothing secondary; the head is left out.
        top = y1 + (y2 - y1) * 0.15
        middle = y1 + (y2 - y1) * 0.5
        return {
            "primary_color": dominant_colour(frame, (x1, top, x2, middle)),
            "secondary_color": dominant_colour(frame, (x1, middle, x2, y2)),
        }
    if detection.cls in (ObjectClass.VEHICLE, ObjectClass.BICYCLE):
        attributes = {"primary_color": dominant_colour(frame, detection.box)}
        vehicle_type = str(detection.attributes.get("vehicle_type", ""))
        if vehicle_type:
            attributes["vehicle_type"] = vehicle_type
        return attributes
    return {}
