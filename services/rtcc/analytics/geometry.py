"""Plane geometry in normalised image coordinates (0..1, y pointing down). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from rtcc.analytics.detection import Box
from rtcc.core.errors import InvalidArgument

Point = tuple[float, float]
Polygon = tuple[Point, ...]


def normalised_polygon(vertices: Sequence[Point], *, field: str = "polygon") -> Polygon:
    """Validate a polygon: at least 3 vertices, each inside the frame (0..1)."""
    if len(vertices) < 3:
        raise InvalidArgument(
            f"a polygon needs at least 3 vertices, got {len(vertices)}", field=field
        )
    for x, y in vertices:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise InvalidArgument(
                f"vertex ({x:g}, {y:g}) lies outside the frame; coordinates are 0 to 1",
                field=field,
            )
    return tuple((float(x), float(y)) for x, y in vertices)


def contains(polygon: Polygon, point: Point) -> bool:
    """Even-odd ray casting; points on an edge may fall either way."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross_x:
                inside = not inside
    return inside


def side(start: Point, end: Point, point: Point) -> float:
    """Negative on the left of start->end (as seen looking from start to end), positive right."""
    return (end[0] - start[0]) * (point[1] - start[1]) - (end[1] - start[1]) * (point[0] - start[0])


def segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segment a-b crosses segment c-d (touching counts)."""
    d1, d2 = side(c, d, a), side(c, d, b)
    d3, d4 = side(a, b, c), side(a, b, d)
    return d1 * d2 <= 0 and d3 * d4 <= 0 and not (d1 == d2 == 0)


def anchor(box: Box, width: int, height: int) -> Point:
    """Where an object stands: the bottom centre of its box, normalised."""
    return ((box[0] + box[2]) / 2 / width, box[3] / height)


def centre(box: Box, width: int, height: int) -> Point:
    return ((box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height)
