"""Region detection and activity-driven rate (rtcc.analytics.gating), pure and end to end."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pydantic
import pytest

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import Detection, DetectorHealth, Frame, ObjectClass
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.gating import (
    HELD,
    DetectionGate,
    RateGovernor,
    covered,
    cut_by_tile,
    dedupe,
    pad_box,
    plan_tiles,
    tile_extent,
)
from rtcc.analytics.records import EVENT_TYPE_CODES
from rtcc.core.config import AnalyticsSettings, Settings

from .synthetic import HEIGHT, T0, WIDTH, BlobDetector, Mover, frames

WALKER = Mover(ObjectClass.PERSON, (200, 60, 0), (40, 140), (60, 0), (30, 80))
PARKED = Mover(ObjectClass.VEHICLE, (0, 0, 200), (420, 200), (0, 0), (150, 90))


class Counting:
    """A detector that records the size of every image it was given."""

    def __init__(self, inner: BlobDetector) -> None:
        self.inner = inner
        self.name = "counting"
        self.shapes: list[tuple[int, int]] = []

    def status(self) -> DetectorHealth:
        return self.inner.status()

    def detect(self, frame: Frame) -> list[Detection]:
        self.shapes.append(frame.shape[:2])
        return self.inner.detect(frame)

    @property
    def pixels(self) -> int:
        return sum(h * w for h, w in self.shapes)


def _inside(box: tuple[float, ...], tile: tuple[float, ...]) -> bool:
    return box[0] >= tile[0] and box[1] >= tile[1] and box[2] <= tile[2] and box[3] <= tile[3]


def test_tiles_keep_the_whole_frames_scale_and_cover_every_padded_region() -> None:
    tile_w, tile_h = tile_extent(768, 576, 128, 416)
    assert (round(tile_w, 1), round(tile_h, 1)) == (236.3, 177.2)
    regions = [
        (100.0, 100.0, 130.0, 170.0),
        (150.0, 110.0, 175.0, 180.0),
        (600.0, 400.0, 630.0, 470.0),
    ]
    tiles = plan_tiles(768, 576, regions, tile_w, tile_h, padding=0.5)
    assert tiles is not None and len(tiles) == 2  # the two near ones share a tile
    for tile in tiles:
        assert tile[2] - tile[0] == pytest.approx(tile_w)
        assert tile[3] - tile[1] == pytest.approx(tile_h)
        assert tile[0] >= 0 and tile[1] >= 0 and tile[2] <= 768 and tile[3] <= 576
    for region in regions:
        padded = pad_box(region, 0.5, 768, 576)
        assert any(_inside(padded, t) for t in tiles)
    # A region larger than a tile: overlapping tiles (a third of a tile); a tile as large
    # as the frame: the whole frame.
    big = plan_tiles(768, 576, [(20.0, 20.0, 400.0, 300.0)], tile_w, tile_h, padding=0.0)
    assert big is not None and len(big) == 9  # 396 x 296 padded: 3 x 3 tiles
    assert min(t[0] for t in big) == 12.0 and max(t[2] for t in big) == pytest.approx(408.0)
    assert big[1][1] - big[0][1] <= tile_h * 2 / 3 + 1e-6
    assert plan_tiles(200, 150, regions[:1], tile_w, tile_h) is None
    assert plan_tiles(768, 576, [], tile_w, tile_h) == []


def test_boxes_cut_by_an_inner_tile_edge_are_dropped_and_duplicates_merged() -> None:
    tile = (100.0, 100.0, 300.0, 250.0)
    assert cut_by_tile((101.0, 150.0, 150.0, 200.0), tile, 640, 360)
    assert not cut_by_tile((120.0, 150.0, 150.0, 200.0), tile, 640, 360)
    # The frame's own edge is not a cut.
    assert not cut_by_tile((0.0, 10.0, 30.0, 60.0), (0.0, 0.0, 200.0, 150.0), 640, 360)
    a = Detection(ObjectClass.PERSON, 0.9, (10.0, 10.0, 40.0, 90.0))
    b = Detection(ObjectClass.PERSON, 0.6, (12.0, 11.0, 41.0, 92.0))
    c = Detection(ObjectClass.VEHICLE, 0.7, (12.0, 11.0, 41.0, 92.0))
    assert dedupe([b, a, c]) == [a, c]
    assert covered((10.0, 10.0, 20.0, 20.0), [(0.0, 0.0, 16.0, 100.0)])
    assert not covered((10.0, 10.0, 20.0, 20.0), [(0.0, 0.0, 12.0, 100.0)])


def test_a_quiet_camera_is_analysed_at_the_quiet_rate_until_something_happens() -> None:
    governor = RateGovernor(quiet_fps=1.0, quiet_after_s=2.0)
    times = [T0 + timedelta(seconds=i / 5) for i in range(50)]  # 10 s at 5 fps
    admitted = [governor.admit(t) for t in times[:25]]
    assert all(admitted[:10])  # active for the first 2 s
    assert sum(admitted[10:]) == 3  # then one frame a second
    governor.activity(times[25])
    assert all(governor.admit(t) for t in times[25:35])  # activity: every frame again
    never = RateGovernor(quiet_fps=0.0, quiet_after_s=0.0)
    assert all(never.admit(t) for t in times)


def test_the_gate_detects_whole_frames_then_only_tiles_then_nothing() -> None:
    tiles, full = Counting(BlobDetector()), Counting(BlobDetector())
    settings = AnalyticsSettings(full_frame_every_s=3.0, quiet_fps=0.0, motion_warmup_s=1.0)
    gate = DetectionGate(settings, [tiles])
    motion = MotionDetector()
    scene = frames([WALKER], 4.0)
    found = [gate.detect(f, t, motion=motion, full=[full], tracks=[]) for t, f in scene]
    # 1 s of warm-up (5 frames), the refresh after 3 s; MOG2 sees the walker from frame 9.
    assert gate.stats.full_frames == 6
    assert gate.stats.region_frames >= 10 and gate.stats.idle_frames <= 4
    assert all(h < HEIGHT or w < WIDTH for h, w in tiles.shapes)
    assert tiles.pixels + full.pixels < 0.6 * len(scene) * WIDTH * HEIGHT
    # The walker is found on tile frames, in frame coordinates.
    for (t, _), boxes in zip(scene[9:], found[9:], strict=True):
        x1, _, x2, _ = WALKER.box((t - T0).total_seconds())
        assert any(abs(d.box[0] - x1) <= 2 and abs(d.box[2] - x2) <= 2 for d in boxes)
    still = frames([], 1.0)  # nothing moves (and the walker is gone): no detector at all
    before = len(tiles.shapes) + len(full.shapes)
    motion.detect(still[0][1])
    for t, f in still:
        assert gate.detect(f, t + timedelta(seconds=4), motion=motion, full=[full], tracks=[]) == []
    assert len(tiles.shapes) + len(full.shapes) <= before + 1


def _events(detectors: DetectorSet, movers: list[Mover], seconds: float):
    analyser = CameraAnalyser(CameraSetup("cam_1", "org_1"), detectors)
    events = []
    for when, frame in frames(movers, seconds):
        events += analyser.process(when, frame)
    return events + analyser.finish(), analyser


def test_region_detection_keeps_the_events_and_a_parked_car_keeps_its_track() -> None:
    appeared = EVENT_TYPE_CODES["object_appeared"]
    plain, _ = _events(DetectorSet(MotionDetector(), BlobDetector()), [WALKER, PARKED], 8.0)
    full, tiles = Counting(BlobDetector()), Counting(BlobDetector())
    gate = DetectionGate(AnalyticsSettings(full_frame_every_s=5.0), [tiles])
    gated, analyser = _events(DetectorSet(MotionDetector(), full, gate=gate), [WALKER, PARKED], 8.0)
    kinds = sorted(e.event.object_class for e in gated if e.event.type == appeared)
    assert set(kinds) == {e.event.object_class for e in plain if e.event.type == appeared}
    assert len(kinds) == 2  # the walker and the parked car, once each
    assert len({e.event.track_id for e in gated}) == 2
    # The parked car never moves: held in place between whole-frame refreshes.
    assert gate.stats.held >= 20
    assert gate.stats.full_frames == 3  # the first two (to confirm), the refresh at 5 s
    assert tiles.pixels + full.pixels < 0.5 * analyser.stats.frames * WIDTH * HEIGHT


def test_a_held_track_ends_when_hold_s_runs_out_without_a_detection() -> None:
    class T:
        id, box, confidence = 1, (10.0, 10.0, 40.0, 90.0), 0.9
        velocity = (0.0, 0.0, 0.0, 0.0)
        last_time = T0
        last_detection = Detection(ObjectClass.PERSON, 0.9, (10.0, 10.0, 40.0, 90.0))

    settings = AnalyticsSettings(hold_s=2.0, full_frame_every_s=0.0, motion_warmup_s=0.0)
    gate = DetectionGate(settings, [])
    frame = np.full((HEIGHT, WIDTH, 3), 70, np.uint8)
    gate.detect(frame, T0, motion=MotionDetector(), full=[], tracks=[])  # first: whole frame
    held = gate.detect(frame, T0 + timedelta(seconds=1), motion=None, full=[], tracks=[T()])
    assert held == []  # no motion detector: whole frames, nothing to hold
    motion = MotionDetector()
    motion.detect(frame)
    held = gate.detect(frame, T0 + timedelta(seconds=1), motion=motion, full=[], tracks=[T()])
    assert [d.attributes[HELD] for d in held] == [True]
    T.last_detection = held[0]  # the tracker matched the held box: not a detector's sighting
    T.last_time = T0 + timedelta(seconds=1)
    assert gate.detect(frame, T0 + timedelta(seconds=3), motion=motion, full=[], tracks=[T()]) == []


def test_a_quiet_camera_analyses_fewer_frames() -> None:
    gate = DetectionGate(AnalyticsSettings(quiet_fps=1.0, quiet_after_s=1.0), [BlobDetector()])
    _, analyser = _events(DetectorSet(MotionDetector(), BlobDetector(), gate=gate), [], 10.0)
    assert gate.stats.rate_skipped >= 30
    assert analyser.stats.frames == gate.stats.admitted <= 15


def test_a_parked_car_is_held_through_quiet_refreshes_without_the_full_rate() -> None:
    settings = AnalyticsSettings(
        quiet_fps=1.0, quiet_after_s=1.0, full_frame_every_s=2.0,
        quiet_full_frame_every_s=6.0, hold_s=1.0,
    )  # fmt: skip
    gate = DetectionGate(settings, [BlobDetector()])
    events, analyser = _events(
        DetectorSet(MotionDetector(), BlobDetector(), gate=gate), [PARKED], 20.0
    )
    appeared = [e for e in events if e.event.type == EVENT_TYPE_CODES["object_appeared"]]
    assert len(appeared) == 1  # one track for 20 s: held between refreshes 6 s apart
    assert gate.stats.rate_skipped >= 60  # motionless: analysed at 1 fps, held or not
    assert gate.stats.full_frames <= 5 and analyser.stats.frames == gate.stats.admitted


def test_settings_validate_and_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pydantic.ValidationError, match="multiple of 32"):
        AnalyticsSettings(tile_input=100)
    with pytest.raises(pydantic.ValidationError):
        AnalyticsSettings(execution_provider="tpu")  # type: ignore[arg-type]
    monkeypatch.setenv("RTCC_ANALYTICS__EXECUTION_PROVIDER", "auto")
    monkeypatch.setenv("RTCC_ANALYTICS__QUIET_FPS", "0.5")
    settings = Settings()
    assert settings.analytics.execution_provider == "auto"
    assert settings.analytics.quiet_fps == 0.5
