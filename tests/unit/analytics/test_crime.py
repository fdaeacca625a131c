"""Crime statistics on synthetic point patterns whose answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from rtcc.analytics import crime

T0 = datetime(2026, 3, 2, tzinfo=UTC)
LAT, LON = 41.88, -87.63  # about 111 m per 0.001 degree of latitude


def _points(n: int, seed: int = 1, *, spread: float = 0.02) -> list[crime.Incident]:
    rng = np.random.default_rng(seed)
    return [
        crime.Incident(
            f"bg{i}",
            LAT + float(rng.uniform(-spread, spread)),
            LON + float(rng.uniform(-spread, spread)),
            T0 + timedelta(hours=float(rng.uniform(0, 24 * 60))),
            area=f"beat{i % 3}",
        )
        for i in range(n)
    ]


def _cluster(n: int, lat: float, lon: float, seed: int = 2) -> list[crime.Incident]:
    rng = np.random.default_rng(seed)
    return [
        crime.Incident(
            f"hot{i}",
            lat + float(rng.normal(0, 0.0005)),
            lon + float(rng.normal(0, 0.0005)),
            T0 + timedelta(hours=float(rng.uniform(0, 24 * 60))),
            area="beat0",
        )
        for i in range(n)
    ]


def test_the_hotspot_is_found_where_the_cluster_is() -> None:
    hot_lat, hot_lon = LAT + 0.01, LON - 0.01
    result = crime.hotspots(_points(400) + _cluster(120, hot_lat, hot_lon), permutations=199)
    assert result.cells, "a dense cluster must give significant hot cells"
    top = result.cells[0]
    assert abs(top.latitude - hot_lat) < 0.004 and abs(top.longitude - hot_lon) < 0.005
    assert top.gi_z > 3 and top.p_value <= 0.05
    assert top.density_per_km2 > 0 and result.max_density_per_km2 >= top.density_per_km2
    # The default (normal p-values, no permutations) finds the same hottest cell.
    normal = crime.hotspots(_points(400) + _cluster(120, hot_lat, hot_lon))
    assert (normal.cells[0].row, normal.cells[0].col) == (top.row, top.col)
    # Uniform background alone: few or no significant cells, none as hot.
    background = crime.hotspots(_points(400), permutations=199)
    assert all(c.gi_z < top.gi_z for c in background.cells)


def test_same_input_in_any_order_gives_the_same_result_and_hash() -> None:
    points = _points(200) + _cluster(50, LAT, LON)
    shuffled = list(reversed(points))
    assert crime.input_sha256(points) == crime.input_sha256(shuffled)
    assert crime.hotspots(points, permutations=99) == crime.hotspots(shuffled, permutations=99)
    assert crime.knox(points, permutations=99) == crime.knox(shuffled, permutations=99)
    other = points[:-1]
    assert crime.input_sha256(other) != crime.input_sha256(points)


def test_knox_finds_near_repeats_and_not_in_random_data() -> None:
    rng = np.random.default_rng(5)
    seeds = _points(60, seed=7)
    repeats = [
        crime.Incident(
            f"rep{i}",
            s.latitude + float(rng.normal(0, 0.0003)),
            s.longitude + float(rng.normal(0, 0.0003)),
            s.time + timedelta(days=float(rng.uniform(0.5, 5))),
        )
        for i, s in enumerate(seeds)
    ]
    found = crime.knox(seeds + repeats, distance_m=150, days=7, permutations=199)
    assert found.observed > found.expected * 2 and found.p_value <= 0.01
    assert found.ratio > 2
    random = crime.knox(_points(120, seed=9), distance_m=150, days=7, permutations=199)
    assert random.p_value > 0.05


def test_trends_flag_an_area_whose_week_is_far_above_its_baseline() -> None:
    week_end = T0 + timedelta(weeks=9)
    base = []
    for week in range(9):
        for area, n in (("beat1", 10), ("beat2", 10)):
            count = 40 if (area == "beat1" and week == 8) else n
            base += [
                crime.Incident(
                    f"{area}-{week}-{k}", LAT, LON,
                    T0 + timedelta(weeks=week, hours=k), area=area,
                )
                for k in range(count)
            ]  # fmt: skip
    result = crime.trends(base, week_end=week_end, baseline_weeks=8)
    by_area = {a.area: a for a in result.areas}
    assert by_area["beat1"].status == "ABOVE" and by_area["beat1"].current == 40
    assert by_area["beat1"].baseline_mean == 10 and by_area["beat1"].change_pct == 300
    assert by_area["beat1"].upper_limit == pytest.approx(10 + 3 * 10**0.5, abs=1e-5)
    assert by_area["beat2"].status == "WITHIN"
    assert result.areas[0].area == "beat1"
    assert by_area["beat2"].weekly == [10] * 9


def test_too_few_incidents_say_how_many_are_needed() -> None:
    with pytest.raises(crime.TooFewIncidents, match="at least 30 incidents; 5 were found"):
        crime.hotspots(_points(5))
    with pytest.raises(crime.TooFewIncidents, match="at least 20 incidents; 3 were found"):
        crime.knox(_points(3))
    with pytest.raises(crime.TooFewIncidents, match="trend analysis needs at least 30"):
        crime.trends(_points(10), week_end=T0 + timedelta(weeks=9))


def test_bad_parameters_and_ranges_are_refused_with_the_field() -> None:
    for call, field in (
        (lambda: crime.hotspots(_points(50), cell_m=1), "cell_m"),
        (lambda: crime.hotspots(_points(50), bandwidth_m=10_000), "bandwidth_m"),
        (lambda: crime.knox(_points(50), days=0), "days"),
        (lambda: crime.trends(_points(50), week_end=T0, baseline_weeks=2), "baseline_weeks"),
        (lambda: crime.hotspots(_points(50, spread=5.0), cell_m=10, bandwidth_m=10), "cell_m"),
    ):
        with pytest.raises(crime.BadParameters) as caught:
            call()
        assert caught.value.field == field
    with pytest.raises(crime.BadParameters) as caught:
        crime.hotspots(_points(50), seed=-1)
    assert caught.value.field == "seed"
    stacked = [crime.Incident(f"s{i}", LAT, LON, T0) for i in range(3200)]  # 5.1M pairs
    with pytest.raises(crime.BadParameters, match="pairs lie within"):
        crime.knox(stacked)
    years = T0 + timedelta(days=800)
    with pytest.raises(crime.BadParameters, match="at most 366 days"):
        crime.check_points([], T0, years)
    outside = [crime.Incident("x", LAT, LON, T0 - timedelta(days=1))]
    with pytest.raises(crime.BadParameters, match="outside time_range"):
        crime.check_points(outside, T0, T0 + timedelta(days=1))
    nowhere = [crime.Incident("y", 123.0, LON, T0)]
    with pytest.raises(crime.BadParameters, match="no valid location"):
        crime.check_points(nowhere, T0, T0 + timedelta(days=1))
