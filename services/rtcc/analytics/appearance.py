"""Appearance of an object: HSV colour histograms of its box, and how alike two are. Pure.

Used by the tracker to re-associate an object after an occlusion or missed detections
(with motion), and stored per track for cross-camera search. The vector is two stacked
hue-saturation histograms — upper and lower half of the box (a person's top and
trousers; a car's roof/windows and body) — each 8 hue x 4 saturation bins plus 4
value bins for the dark/unsaturated pixels hue cannot describe; L1-normalised per half,
so the whole vector sums to 2. A box's outer 10% on each side is left out (background).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from rtcc.analytics.detection import Box, Frame

HUE_BINS, SAT_BINS, VALUE_BINS = 8, 4, 4
HALF = HUE_BINS * SAT_BINS + VALUE_BINS
SIZE = 2 * HALF  # 72 floats
Appearance = npt.NDArray[np.float32]
# Below this saturation or value a pixel's hue is noise: counted by value only.
_MIN_SAT, _MIN_VAL = 40, 40


def describe(frame: Frame, box: Box) -> Appearance | None:
    """The appearance vector of ``box`` in ``frame``; None when the box is too small."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    left, right = int(max(0, x1 + mx)), int(min(width, x2 - mx))
    top, bottom = int(max(0, y1 + my)), int(min(height, y2 - my))
    if right - left < 4 or bottom - top < 8:
        return None
    hsv = cv2.cvtColor(frame[top:bottom, left:right], cv2.COLOR_BGR2HSV)
    middle = (bottom - top) // 2
    halves = [_half(hsv[:middle]), _half(hsv[middle:])]
    return np.concatenate(halves).astype(np.float32)


def _half(hsv: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    pixels = hsv.reshape(-1, 3).astype(np.int32)
    h, s, v = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    chromatic = (s >= _MIN_SAT) & (v >= _MIN_VAL)
    out = np.zeros(HALF, np.float64)
    hue_bin = np.minimum(h[chromatic] * HUE_BINS // 180, HUE_BINS - 1)
    sat_bin = np.minimum((s[chromatic] - _MIN_SAT) * SAT_BINS // (256 - _MIN_SAT), SAT_BINS - 1)
    np.add.at(out, hue_bin * SAT_BINS + sat_bin, 1.0)
    value_bin = np.minimum(v[~chromatic] * VALUE_BINS // 256, VALUE_BINS - 1)
    np.add.at(out, HUE_BINS * SAT_BINS + value_bin, 1.0)
    total = out.sum()
    return out / total if total > 0 else out


def distance(a: Appearance, b: Appearance) -> float:
    """Mean Bhattacharyya (Hellinger) distance of the two halves: 0 alike .. 1 disjoint."""
    # One pass over both halves (the tracker calls this ~40 times a frame).
    top, bottom = np.sqrt(np.maximum(a, 0) * np.maximum(b, 0)).reshape(2, HALF).sum(axis=1)
    return (
        math.sqrt(max(0.0, 1.0 - min(1.0, float(top))))
        + math.sqrt(max(0.0, 1.0 - min(1.0, float(bottom))))
    ) / 2


def blend(old: Appearance | None, new: Appearance | None, weight: float = 0.2) -> Appearance | None:
    """An exponential moving average of a track's appearance (``weight`` for the new one)."""
    if old is None:
        return new
    if new is None:
        return old
    return ((1 - weight) * old + weight * new).astype(np.float32)


def encode(look: Appearance) -> str:
    """Compact text form (base64 of float16, 192 characters), as stored with events."""
    return base64.b64encode(np.asarray(look, np.float16).tobytes()).decode("ascii")


def decode(text: str) -> Appearance | None:
    """The vector back from ``encode``; None for anything that is not one."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) != SIZE * 2:
        return None
    return np.frombuffer(raw, np.float16).astype(np.float32)


def distances(query: Appearance, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """``distance`` of ``query`` to each row of ``matrix``, vectorised."""
    root = np.sqrt(np.clip(matrix, 0, None))
    q = np.sqrt(np.clip(query, 0, None))
    top = np.clip(1.0 - root[:, :HALF] @ q[:HALF], 0.0, 1.0)
    bottom = np.clip(1.0 - root[:, HALF:] @ q[HALF:], 0.0, 1.0)
    return (np.sqrt(top) + np.sqrt(bottom)) / 2
