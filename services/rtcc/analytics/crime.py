"""Crime analysis on point data: hotspots, near-repeat patterns, CompStat trends. Pure.

Points are incidents (CAD calls and alerts, or analytics events at their camera's
location): an id, a place (WGS84), a time and an area label. Every function is
deterministic — points are put in a canonical order first and Monte Carlo draws come
from a seeded generator — so the same input and parameters give the same result byte
for byte (``rtcc.analytics.crime_runs`` stores a SHA-256 of both with each run).

* ``hotspots``: incidents binned on a metric grid (``cell_m``); kernel density by a
  Gaussian kernel of ``bandwidth_m`` over the grid (counts per km²); Getis-Ord Gi*
  (PySAL ``esda.G_Local``, ``star=True``, binary queen contiguity from ``libpysal``)
  per cell; p-values from the normal approximation of the z-score (two-sided, as
  ArcGIS's Hot Spot Analysis reports them), or with ``permutations`` > 0 a
  conditional-permutation p-value from that many seeded draws (slower: ~3 s per 999
  on a 15,000-cell grid).
* ``knox``: the Knox test of near-repeat patterning: the number of pairs closer than
  ``distance_m`` *and* ``days`` apart against its distribution when times are shuffled
  over places (Monte Carlo, seeded); p = (1 + #{simulated >= observed}) / (1 + n).
* ``trends``: CompStat-style — per area, the count of the last week against the weekly
  counts of the ``baseline_weeks`` before it: mean, standard deviation and control
  limits (c-chart for counts: mean ± 3·sqrt(mean)), flagged ABOVE, BELOW or WITHIN.

Bad input raises ``AnalysisError`` subclasses with a sentence a person can act on.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8
MAX_SPAN = timedelta(days=366)
MAX_POINTS = 1_000_000
MAX_CELLS = 250_000
MAX_KNOX_POINTS = 20_000
MAX_KNOX_PAIRS = 5_000_000
MIN_HOTSPOT_POINTS = 30
MIN_KNOX_POINTS = 20
MIN_BASELINE_WEEKS = 4


class AnalysisError(Exception):
    """Input the analysis cannot use, with the reason."""


class TooFewIncidents(AnalysisError):
    """Fewer incidents than the statistic needs (FAILED_PRECONDITION)."""


class BadParameters(AnalysisError):
    """A parameter out of range (INVALID_ARGUMENT); ``field`` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Incident:
    id: str
    latitude: float
    longitude: float
    time: datetime
    area: str = ""
    category: str = ""


def canonical(points: Sequence[Incident]) -> list[Incident]:
    """The points in one order whatever order they came in (time, id, place)."""
    return sorted(points, key=lambda p: (p.time, p.id, p.latitude, p.longitude, p.area))


def input_sha256(points: Sequence[Incident]) -> str:
    """SHA-256 of the canonical serialisation of the points (what a run was given)."""
    lines = [
        f"{p.id}\t{p.latitude:.7f}\t{p.longitude:.7f}\t{(p.time - _EPOCH) // _MICROSECOND}\t"
        f"{p.area}\t{p.category}\n"
        for p in canonical(points)
    ]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def check_points(points: Sequence[Incident], start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise BadParameters("time_range must be timezone-aware", "time_range")
    if end <= start:
        raise BadParameters("time_range must end after it starts", "time_range")
    if end - start > MAX_SPAN:
        raise BadParameters(
            f"time_range spans {(end - start).days} days; an analysis covers at most "
            f"{MAX_SPAN.days} days: run one per year",
            "time_range",
        )
    if len(points) > MAX_POINTS:
        raise BadParameters(
            f"{len(points)} incidents exceed the {MAX_POINTS} one run may analyse; narrow "
            "the time range or area",
            "incidents",
        )
    for p in points:
        if not (-90 <= p.latitude <= 90 and -180 <= p.longitude <= 180):
            raise BadParameters(f"incident {p.id!r} has no valid location", "incidents")
        if not start <= p.time < end:
            raise BadParameters(
                f"incident {p.id!r} at {p.time.isoformat()} lies outside time_range", "incidents"
            )


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**32:
        raise BadParameters("seed must be 0 to 4294967295", "seed")


def _project(points: Sequence[Incident]) -> tuple[npt.NDArray[np.float64], float, float]:
    """Local equirectangular metres around the points' mean (fine for a city)."""
    lat = np.array([p.latitude for p in points])
    lon = np.array([p.longitude for p in points])
    lat0, lon0 = float(lat.mean()), float(lon.mean())
    x = np.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = np.radians(lat - lat0) * EARTH_RADIUS_M
    return np.column_stack([x, y]), lat0, lon0


def _unproject(x: float, y: float, lat0: float, lon0: float) -> tuple[float, float]:
    lat = lat0 + math.degrees(y / EARTH_RADIUS_M)
    lon = lon0 + math.degrees(x / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
    return lat, lon


@dataclass(frozen=True)
class HotspotCell:
    row: int
    col: int
    latitude: float  # the cell's centre
    longitude: float
    count: int
    density_per_km2: float
    gi_z: float
    p_value: float


@dataclass(frozen=True)
class HotspotResult:
    cell_m: float
    bandwidth_m: float
    rows: int
    cols: int
    incidents: int
    cells: list[HotspotCell]  # significant hot cells (gi_z > 0, p <= alpha), hottest first
    max_density_per_km2: float


def hotspots(
    points: Sequence[Incident],
    *,
    cell_m: float = 250.0,
    bandwidth_m: float = 500.0,
    permutations: int = 0,
    alpha: float = 0.05,
    seed: int = 12345,
) -> HotspotResult:
    if not 10 <= cell_m <= 5000:
        raise BadParameters("cell_m must be 10 to 5000 metres", "cell_m")
    if not cell_m <= bandwidth_m <= 20 * cell_m:
        raise BadParameters("bandwidth_m must be 1 to 20 times cell_m", "bandwidth_m")
    if not 0 <= permutations <= 9999:
        raise BadParameters("permutations must be 0 to 9999", "permutations")
    if not 0 < alpha < 0.5:
        raise BadParameters("alpha must be between 0 and 0.5", "alpha")
    _check_seed(seed)
    if len(points) < MIN_HOTSPOT_POINTS:
        raise TooFewIncidents(
            f"a hotspot analysis needs at least {MIN_HOTSPOT_POINTS} incidents; "
            f"{len(points)} were found: widen the time range or area"
        )
    ordered = canonical(points)
    xy, lat0, lon0 = _project(ordered)
    pad = 2 * bandwidth_m
    x0, y0 = xy[:, 0].min() - pad, xy[:, 1].min() - pad
    cols = math.ceil((xy[:, 0].max() + pad - x0) / cell_m)
    rows = math.ceil((xy[:, 1].max() + pad - y0) / cell_m)
    if rows * cols > MAX_CELLS:
        raise BadParameters(
            f"the incidents span {rows}x{cols} cells of {cell_m:g} m (at most {MAX_CELLS}); "
            "use larger cells or a smaller area",
            "cell_m",
        )
    col = np.minimum(((xy[:, 0] - x0) / cell_m).astype(int), cols - 1)
    row = np.minimum(((xy[:, 1] - y0) / cell_m).astype(int), rows - 1)
    counts = np.zeros((rows, cols), np.float64)
    np.add.at(counts, (row, col), 1.0)
    density = _gaussian(counts, bandwidth_m / cell_m) / (cell_m * cell_m / 1e6)
    z, p = _gi_star(counts, permutations, seed)
    hot = [(float(z[r, c]), r, c) for r, c in zip(*np.nonzero((z > 0) & (p <= alpha)), strict=True)]
    hot.sort(key=lambda t: (-t[0], t[1], t[2]))
    cells = []
    for gz, r, c in hot:
        lat, lon = _unproject(x0 + (c + 0.5) * cell_m, y0 + (r + 0.5) * cell_m, lat0, lon0)
        cells.append(
            HotspotCell(
                int(r),
                int(c),
                round(lat, 7),
                round(lon, 7),
                int(counts[r, c]),
                round(float(density[r, c]), 6),
                round(gz, 6),
                round(float(p[r, c]), 6),
            )
        )
    return HotspotResult(
        cell_m, bandwidth_m, rows, cols, len(ordered), cells, round(float(density.max()), 6)
    )


def _gaussian(grid: npt.NDArray[np.float64], sigma_cells: float) -> npt.NDArray[np.float64]:
    """Separable Gaussian smoothing (kernel density on the binned counts)."""
    radius = max(1, math.ceil(3 * sigma_cells))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_cells) ** 2)
    kernel /= kernel.sum()
    smoothed = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 0, grid)
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 1, smoothed)


def _gi_star(
    counts: npt.NDArray[np.float64], permutations: int, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Getis-Ord Gi* z-scores and p-values per cell (esda), queen contiguity."""
    from esda.getisord import G_Local
    from libpysal.weights import lat2W

    rows, cols = counts.shape
    weights = lat2W(rows, cols, rook=False)
    y = counts.reshape(-1)  # lat2W numbers cells row by row, as reshape does
    with warnings.catch_warnings():
        # esda warns that its default (directed) alternative will change; directed is
        # what a hot spot means here (high values), so the p-values stay as documented.
        warnings.simplefilter("ignore", DeprecationWarning)
        gi = G_Local(
            y, weights, transform="B", star=True, permutations=permutations, seed=seed,
            keep_simulations=False, n_jobs=1,
        )  # fmt: skip
    z = np.nan_to_num(np.asarray(gi.Zs, dtype=np.float64))
    if permutations:
        p = np.asarray(gi.p_sim, dtype=np.float64)
    else:
        p = np.asarray(gi.p_norm, dtype=np.float64) * 2  # two-sided normal
    return z.reshape(rows, cols), np.minimum(p, 1.0).reshape(rows, cols)


@dataclass(frozen=True)
class KnoxResult:
    distance_m: float
    days: float
    incidents: int
    close_in_space: int
    observed: int
    expected: float
    ratio: float
    p_value: float
    permutations: int


def knox(
    points: Sequence[Incident],
    *,
    distance_m: float = 200.0,
    days: float = 14.0,
    permutations: int = 999,
    seed: int = 12345,
) -> KnoxResult:
    if not 1 <= distance_m <= 10_000:
        raise BadParameters("distance_m must be 1 to 10000 metres", "distance_m")
    if not 0 < days <= 365:
        raise BadParameters("days must be more than 0 and at most 365", "days")
    if not 99 <= permutations <= 9999:
        raise BadParameters("permutations must be 99 to 9999", "permutations")
    _check_seed(seed)
    if len(points) < MIN_KNOX_POINTS:
        raise TooFewIncidents(
            f"a Knox test needs at least {MIN_KNOX_POINTS} incidents; {len(points)} were "
            "found: widen the time range or area"
        )
    if len(points) > MAX_KNOX_POINTS:
        raise BadParameters(
            f"a Knox test takes at most {MAX_KNOX_POINTS} incidents ({len(points)} given); "
            "narrow the time range or area",
            "incidents",
        )
    from scipy.spatial import cKDTree

    ordered = canonical(points)
    xy, _, _ = _project(ordered)
    tree = cKDTree(xy)
    # Count before listing: a dense pattern could hold hundreds of millions of pairs.
    close = (int(tree.count_neighbors(tree, distance_m)) - len(ordered)) // 2
    if close > MAX_KNOX_PAIRS:
        raise BadParameters(
            f"{close} pairs lie within {distance_m:g} m (at most {MAX_KNOX_PAIRS}); use "
            "a smaller distance or area",
            "distance_m",
        )
    pairs = tree.query_pairs(distance_m, output_type="ndarray")
    t0 = ordered[0].time
    day = np.array([(p.time - t0).total_seconds() / 86400.0 for p in ordered])
    i, j = (pairs[:, 0], pairs[:, 1]) if len(pairs) else (np.array([], int), np.array([], int))
    observed = int((np.abs(day[i] - day[j]) <= days).sum())
    rng = np.random.default_rng(seed)
    simulated = np.empty(permutations, np.int64)
    for k in range(permutations):
        shuffled = rng.permutation(day)
        simulated[k] = int((np.abs(shuffled[i] - shuffled[j]) <= days).sum())
    expected = float(simulated.mean())
    p_value = (1 + int((simulated >= observed).sum())) / (1 + permutations)
    ratio = observed / expected if expected > 0 else (math.inf if observed else 1.0)
    return KnoxResult(
        distance_m, days, len(ordered), len(pairs), observed, round(expected, 6),
        round(ratio, 6) if math.isfinite(ratio) else -1.0, round(p_value, 6), permutations,
    )  # fmt: skip


@dataclass(frozen=True)
class AreaTrend:
    area: str
    current: int
    baseline_mean: float
    baseline_sd: float
    lower_limit: float
    upper_limit: float
    change_pct: float
    status: str  # ABOVE, BELOW, WITHIN
    weekly: list[int]  # baseline weeks, oldest first, then the current week


@dataclass(frozen=True)
class TrendResult:
    week_start: datetime
    baseline_weeks: int
    incidents: int
    areas: list[AreaTrend]


def trends(
    points: Sequence[Incident], *, week_end: datetime, baseline_weeks: int = 8
) -> TrendResult:
    """Weeks end at ``week_end``: the current week is [week_end - 7 d, week_end)."""
    if not MIN_BASELINE_WEEKS <= baseline_weeks <= 52:
        raise BadParameters(
            f"baseline_weeks must be {MIN_BASELINE_WEEKS} to 52 (control limits need a "
            "baseline of several weeks)",
            "baseline_weeks",
        )
    week = timedelta(days=7)
    start = week_end - (baseline_weeks + 1) * week
    inside = [p for p in canonical(points) if start <= p.time < week_end]
    if len(inside) < MIN_HOTSPOT_POINTS:
        raise TooFewIncidents(
            f"a trend analysis needs at least {MIN_HOTSPOT_POINTS} incidents over the "
            f"{baseline_weeks + 1} weeks; {len(inside)} were found"
        )
    counts: dict[str, list[int]] = {}
    for p in inside:
        slot = int((p.time - start) / week)
        counts.setdefault(p.area or "(no area)", [0] * (baseline_weeks + 1))[slot] += 1
    areas = []
    for area in sorted(counts):
        weekly = counts[area]
        base = np.array(weekly[:-1], dtype=np.float64)
        mean, sd = float(base.mean()), float(base.std(ddof=1))
        half = 3 * math.sqrt(mean) if mean > 0 else 3.0
        lower, upper = max(0.0, mean - half), mean + half
        current = weekly[-1]
        status = "ABOVE" if current > upper else "BELOW" if current < lower else "WITHIN"
        change = (current - mean) / mean * 100 if mean > 0 else (100.0 if current else 0.0)
        areas.append(
            AreaTrend(
                area,
                current,
                round(mean, 6),
                round(sd, 6),
                round(lower, 6),
                round(upper, 6),
                round(change, 4),
                status,
                list(weekly),
            )
        )
    order = {"ABOVE": 0, "BELOW": 1, "WITHIN": 2}
    areas.sort(key=lambda a: (order[a.status], -abs(a.change_pct), a.area))
    return TrendResult(week_end - week, baseline_weeks, len(inside), areas)


def categories(points: Sequence[Incident]) -> dict[str, int]:
    return dict(sorted(Counter(p.category for p in points).items()))
