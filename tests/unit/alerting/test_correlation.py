"""Correlation: camera ranking and why, history geometry, correlation rules."""

from __future__ import annotations

import datetime as dt

from rtcc.alerting import correlation as corr

T = dt.datetime(2026, 1, 31, 22, 14, 3, tzinfo=dt.UTC)


def cam(cid: str, distance: float, in_view: bool, bearing: float = 90.0) -> corr.CameraCandidate:
    return corr.CameraCandidate(cid, cid.upper(), 41.0, -87.0, distance, bearing, in_view)


def test_cameras_that_see_the_spot_rank_first_then_nearest() -> None:
    ranked = corr.rank_cameras(
        [cam("near-blind", 20, False), cam("far-view", 250, True), cam("mid-view", 90, True)], T
    )
    assert [r.camera.camera_id for r in ranked] == ["mid-view", "far-view", "near-blind"]
    assert [r.rank for r in ranked] == [1, 2, 3]
    assert ranked[0].reason.startswith("in view, 90 m") and "E (90°)" in ranked[0].reason
    assert ranked[2].reason.startswith("near, not facing, 20 m")


def test_links_point_at_live_video_and_the_recording_at_the_alert_instant() -> None:
    (ranked,) = corr.rank_cameras([cam("cam_1", 10, True)], T)
    assert ranked.live_url == "/whep/cameras/cam_1"
    assert ranked.recording_url == "/whep/cameras/cam_1?start=2026-01-31T22%3A13%3A33Z"


def test_per_source_policies_differ() -> None:
    assert corr.policy_for("gunshot").radius_m != corr.policy_for("hotlist_hit").radius_m
    custom = corr.Policy(50.0)
    assert corr.policy_for("gunshot", {"gunshot": custom}) is custom


def test_distance_and_bounding_box_agree() -> None:
    d = corr.distance_m(41.0, -87.0, 41.001, -87.0)
    assert 110 < d < 112
    min_lat, min_lon, max_lat, max_lon = corr.bounding_box(41.0, -87.0, 500)
    assert min_lat < 41.0 - 0.0044 < 41.0 + 0.0044 < max_lat and min_lon < -87.0 < max_lon


def facts(aid: str, kind: str, lat: float, minutes: float) -> corr.AlertFacts:
    return corr.AlertFacts(aid, kind, lat, -87.0, T + dt.timedelta(minutes=minutes), 3)


RULE = corr.CorrelationRule(
    "rul_1",
    frozenset({"gunshot"}),
    frozenset({"hotlist_hit"}),
    500.0,
    dt.timedelta(minutes=10),
    4,
)


def test_hotlist_hit_near_and_soon_after_a_gunshot_matches() -> None:
    gunshot = facts("alr_g", "gunshot", 41.0, 0)
    hit = facts("alr_h", "hotlist_hit", 41.003, 6)  # ~330 m, 6 min
    (match,) = corr.correlate([RULE], hit, [gunshot])
    assert match.premise.alert_id == "alr_g" and match.condition.alert_id == "alr_h"
    assert match.key == "rul_1:alr_g:alr_h"
    # The other order (hit first, gunshot reported later) is the same story.
    (again,) = corr.correlate([RULE], gunshot, [hit])
    assert again.key == match.key


def test_too_far_too_late_or_wrong_kinds_do_not_match() -> None:
    gunshot = facts("alr_g", "gunshot", 41.0, 0)
    assert not corr.correlate([RULE], facts("h", "hotlist_hit", 41.01, 1), [gunshot])  # 1.1 km
    assert not corr.correlate([RULE], facts("h", "hotlist_hit", 41.0, 11), [gunshot])
    assert not corr.correlate([RULE], facts("h", "cad_incident", 41.0, 1), [gunshot])


def test_context_summary_notices_a_moved_location() -> None:
    summary = corr.ContextSummary(latitude=41.0, longitude=-87.0)
    assert not summary.moved(41.0, -87.0)
    assert summary.moved(41.0005, -87.0)
    assert corr.ContextSummary.from_json(summary.to_json()).latitude == 41.0
