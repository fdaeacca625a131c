"""Privacy: masked pixels are never analysed and nothing is reported inside them; faces
can be blurred out of snapshots."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from rtcc.analytics.detection import Box, Detection, Frame
from rtcc.analytics.geometry import Polygon, centre, contains


def blank_masked(frame: Frame, masks: Sequence[Polygon]) -> Frame:
    """A copy of the frame with every masked polygon filled black (the input is untouched)."""
    if not masks:
        return frame
    height, width = frame.shape[:2]
    out = frame.copy()
    polygons = [
        np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in mask], np.int32)
        for mask in masks
    ]
    cv2.fillPoly(out, polygons, (0, 0, 0))
    return out


def outside_masks(
    detections: Sequence[Detection], masks: Sequence[Polygon], width: int, height: int
) -> list[Detection]:
    """The detections whose centre lies outside every mask."""
    return [
        d
        for d in detections
        if not any(contains(mask, centre(d.box, width, height)) for mask in masks)
    ]


def blur_boxes(frame: Frame, boxes: Sequence[Box]) -> Frame:
    """A copy of the frame with each box pixelated beyond recognition."""
    out = frame.copy()
    height, width = frame.shape[:2]
    for x1, y1, x2, y2 in boxes:
        xa, ya = max(0, int(x1)), max(0, int(y1))
        xb, yb = min(width, int(x2) + 1), min(height, int(y2) + 1)
        if xb - xa < 2 or yb - ya < 2:
            continue
        region = out[ya:yb, xa:xb]
        small = cv2.resize(region, (4, 4), interpolation=cv2.INTER_AREA)
        out[ya:yb, xa:xb] = cv2.resize(small, (xb - xa, yb - ya), interpolation=cv2.INTER_NEAREST)
    return out
