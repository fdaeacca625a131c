"""Scripted camera scenes and their ground truth, from one description.

A scene is a loop of `duration_s` seconds: people walking, vehicles carrying readable
licence plates, one person who walks into a restricted area, and a burned-in scene
clock. The same `Scene` value builds the FFmpeg filter graph that renders it and the
ground truth (object boxes per frame, plates, zone entry times), so the two cannot
drift apart. Pure: no I/O, no clock.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
WIDTH, HEIGHT, FPS = 1280, 720, 15
SUB_WIDTH, SUB_HEIGHT = 640, 360

# Plate characters that read unambiguously (no I/O/0/1 confusion).
_PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle in main-stream pixels."""

    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def contains(self, point: tuple[float, float]) -> bool:
        px, py = point
        return self.x <= px <= self.x + self.w and self.y <= py <= self.y + self.h


@dataclass(frozen=True, slots=True)
class Actor:
    """Something that moves along straight lines between (time, x, y) waypoints."""

    id: str
    kind: str  # "person" or "vehicle"
    w: int
    h: int
    color: str
    waypoints: tuple[tuple[float, float, float], ...]
    plate: str = ""

    def position(self, t: float) -> tuple[float, float]:
        """Top-left corner at scene time `t` (held at the ends)."""
        first, last = self.waypoints[0], self.waypoints[-1]
        if t <= first[0]:
            return first[1], first[2]
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(self.waypoints):
            if t < t1:
                f = (t - t0) / (t1 - t0)
                return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
        return last[1], last[2]

    def box(self, t: float) -> Box:
        x, y = self.position(t)
        return Box(round(x), round(y), self.w, self.h)

    def expr(self, axis: int) -> str:
        """The same piecewise-linear motion as an FFmpeg expression of `t`."""
        points = self.waypoints
        out = f"({points[-1][axis]})"
        for (t0, *p0), (t1, *p1) in reversed(list(itertools.pairwise(points))):
            a, b = p0[axis - 1], p1[axis - 1]
            seg = f"({a})+(({b})-({a}))*(t-{t0})/({t1}-{t0})"
            out = f"if(lt(t,{t1}),{seg},{out})"
        return f"if(lt(t,{points[0][0]}),({points[0][axis]}),{out})"


@dataclass(frozen=True)
class Scene:
    """One camera's scripted loop."""

    name: str
    duration_s: float
    zone: Box
    actors: tuple[Actor, ...]
    background: str = "0x4a5d3a"
    fps: int = FPS
    extra: dict[str, Any] = field(default_factory=dict)


def plate_for(index: int, n: int) -> str:
    """A deterministic, readable plate such as ``RTC 4821``."""
    seed = (index * 7919 + n * 104729) % 1_000_003
    letters = "".join(_PLATE_LETTERS[(seed // 23**k) % 23] for k in range(3))
    return f"{letters} {1000 + seed % 9000}"


def scene_for(index: int, duration_s: float = 20.0) -> Scene:
    """The scene of simulated camera `index`: same index, same scene, every time."""
    d = float(duration_s)
    shift = (index * 37) % 120
    zone = Box(900, 250, 300, 260)
    actors = (
        Actor("person-1", "person", 40, 110, "0x1f4e99", ((0, -40, 420), (d, WIDTH, 420))),
        Actor("person-2", "person", 40, 110, "0x8a2be2", ((0, WIDTH - 60, 470), (d, 20, 470))),
        Actor(
            "intruder",
            "person",
            40,
            110,
            "0xd2691e",
            ((0, 120 + shift, 300), (d * 0.6, 1020, 300), (d, 1020, 300)),
        ),
        Actor(
            "vehicle-1",
            "vehicle",
            260,
            110,
            "0xb22222",
            ((0, -260, 580), (d, WIDTH, 580)),
            plate=plate_for(index, 1),
        ),
        Actor(
            "vehicle-2",
            "vehicle",
            260,
            110,
            "0xdcdcdc",
            ((0, WIDTH, 110), (d, -260, 110)),
            plate=plate_for(index, 2),
        ),
    )
    return Scene(name=f"cam{index}", duration_s=d, zone=zone, actors=actors)


def _plate_box(actor: Actor) -> tuple[int, int, int, int]:
    """Plate rectangle relative to the vehicle: centred low on its side."""
    w, h = 150, 40
    return (actor.w - w) // 2, actor.h - h - 8, w, h


def filter_graph(scene: Scene, main_size: tuple[int, int] | None = None) -> str:
    """An FFmpeg -filter_complex drawing `scene`; outputs [main] and [sub].

    The scene is drawn at WIDTH x HEIGHT (its ground truth's pixels); `main_size`
    scales the main stream down (e.g. 640x360 for many cheap cameras), and the sub
    stream is never larger than the main one.
    """
    d, fps = scene.duration_s, scene.fps
    sub_w, sub_h = SUB_WIDTH, SUB_HEIGHT
    tail = "split[main][full]"
    if main_size is not None and tuple(main_size) != (WIDTH, HEIGHT):
        main_w, main_h = main_size
        sub_w, sub_h = min(sub_w, main_w), min(sub_h, main_h)
        tail = f"split[big][full];[big]scale={main_w}:{main_h}[main]"
    parts = [
        f"color=c={scene.background}:s={WIDTH}x{HEIGHT}:r={fps}:d={d},"
        "noise=alls=10:allf=t,"
        f"drawbox=x={scene.zone.x}:y={scene.zone.y}:w={scene.zone.w}:h={scene.zone.h}"
        ":color=red@0.9:t=6[bg0]"
    ]
    label = "bg0"
    for i, actor in enumerate(scene.actors):
        src = f"a{i}"
        parts.append(f"color=c={actor.color}:s={actor.w}x{actor.h}:r={fps}[{src}]")
        x, y = actor.expr(1), actor.expr(2)
        parts.append(f"[{label}][{src}]overlay=x='{x}':y='{y}':shortest=1:eval=frame[o{i}]")
        label = f"o{i}"
        if actor.plate:
            px, py, pw, ph = _plate_box(actor)
            parts.append(f"color=c=white:s={pw}x{ph}:r={fps}[p{i}]")
            parts.append(
                f"[{label}][p{i}]overlay=x='{x}+{px}':y='{y}+{py}':shortest=1:eval=frame,"
                f"drawtext=fontfile={FONT}:text='{actor.plate}':fontsize=28:fontcolor=black"
                f":x='{x}+{px}+8':y='{y}+{py}+6'[q{i}]"
            )
            label = f"q{i}"
    parts.append(
        f"[{label}]drawtext=fontfile={FONT}:text='{scene.name} %{{pts\\:hms}}':fontsize=32"
        f":fontcolor=white:box=1:boxcolor=black@0.7:x=20:y=20,{tail};"
        f"[full]scale={sub_w}:{sub_h}[sub]"
    )
    return ";".join(parts)


def ground_truth(scene: Scene) -> dict[str, Any]:
    """Boxes of every actor on every frame, plates and restricted-zone entry times."""
    frames = []
    entries: dict[str, float] = {}
    inside: dict[str, bool] = {}
    n = round(scene.duration_s * scene.fps)
    for k in range(n):
        t = k / scene.fps
        objects = []
        for actor in scene.actors:
            box = actor.box(t)
            visible = box.x + box.w > 0 and box.x < WIDTH
            if not visible:
                continue
            objects.append(
                {"id": actor.id, "kind": actor.kind, "box": [box.x, box.y, box.w, box.h]}
            )
            now_inside = actor.kind == "person" and scene.zone.contains(box.center)
            if now_inside and not inside.get(actor.id, False) and actor.id not in entries:
                entries[actor.id] = round(t, 4)
            inside[actor.id] = now_inside
        frames.append({"t": round(t, 4), "objects": objects})
    return {
        "scene": scene.name,
        "duration_s": scene.duration_s,
        "fps": scene.fps,
        "size": [WIDTH, HEIGHT],
        "zone": {
            "id": "restricted",
            "box": [scene.zone.x, scene.zone.y, scene.zone.w, scene.zone.h],
        },
        "zone_entries": [{"object_id": k, "time_s": v} for k, v in sorted(entries.items())],
        "plates": [
            {"object_id": a.id, "text": a.plate, "plate_box": list(_plate_box(a))}
            for a in scene.actors
            if a.plate
        ],
        "clock": {"box": [20, 20, 300, 40], "format": "<scene> HH:MM:SS.mmm of scene time"},
        "frames": frames,
    }
