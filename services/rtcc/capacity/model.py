"""Capacity model: what a city of N cameras needs, from costs measured in this repo.

Pure: numbers in, a plan out; no I/O. Every constant is a figure measured on the
project's 2-core development VM and written in BENCHMARKS.md (section named beside
it), or is marked ASSUMED where nothing was measured yet. The plan is a starting
point for a pilot, to be corrected with the pilot's own metrics.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

MBIT = 1_000_000

# -- measured (BENCHMARKS.md) ---------------------------------------------------------
# "Ingest: recording per core, against ffmpeg": rtcc recorder (remux, spool, store,
# index, bus), 720p at ~2 Mbit/s, 8 streams: 1.28 % of a core and 5.2 MiB RSS a stream.
RECORD_CORES_PER_STREAM = 0.0128
RECORD_MIB_PER_STREAM = 5.2
RECORD_MEASURED_BITRATE = 2 * MBIT
# "Figures": YOLOv3-tiny 416x416 at 9.9 frames/s a core; the MOG2 motion gate at 482.
DETECT_FPS_PER_CORE = 9.9
MOTION_FPS_PER_CORE = 482.0
# "Playback": an extra H.264 passthrough viewer costs ~1.0 % of a core (103 a core).
VIEWER_CORES = 0.010
# "Ingest: recording per core" / docs/ingest.md: 4 s segments, one index row each.
SEGMENT_S = 4.0

# -- derived from formats, not measured -----------------------------------------------
# Analytics reads frames as BGR24 at most 640 px wide (analytics/frames.py): 640x360x3.
ANALYTICS_FRAME_BYTES = 640 * 360 * 3

# "City scale" (bench/city_small.py, 20 cameras): RSS of one process before its
# cameras: registry 127 MiB, ingest ~132 (167 with 7 cameras), playback 195; rounded up.
PROCESS_BASE_MIB = 200.0

# -- ASSUMED (not measured yet; replace with a pilot's figures) -----------------------
ANALYTICS_MIB_PER_CAMERA = 150.0  # detectors per camera + a 4-frame queue
TARGET_UTILISATION = 0.7  # the chart's HPA target: leave 30 % headroom
MIN_REPLICAS = 2  # every scalable target survives the loss of one pod


class PlanError(ValueError):
    """The input cannot describe a real deployment; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Demand:
    """What the city asks for."""

    cameras: int
    bitrate_bps: float
    retention_days: float
    analytics_share: float
    analytics_fps: float = 5.0
    # People watching live at once, as a share of cameras.
    viewer_share: float = 0.05
    # Hours the spool must bridge when object storage is away.
    spool_hours: float = 1.0
    cores_per_pod: float = 2.0


@dataclass(frozen=True, slots=True)
class TargetPlan:
    name: str
    replicas: int
    cores: float
    memory_gib: float
    # Per pod, for the chart's requests.
    pod_cores: float
    pod_memory_gib: float


@dataclass(frozen=True, slots=True)
class Plan:
    demand: Demand
    storage_tib: float
    spool_gib_per_pod: float
    targets: list[TargetPlan]
    network_mbps: dict[str, float] = field(default_factory=dict)
    index_rows_per_s: float = 0.0

    def target(self, name: str) -> TargetPlan:
        return next(t for t in self.targets if t.name == name)

    @property
    def cores(self) -> float:
        return sum(t.cores for t in self.targets)

    @property
    def memory_gib(self) -> float:
        return sum(t.memory_gib for t in self.targets)


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:bit/s|bps|b)?\s*$", re.IGNORECASE)
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdwmy]?)\s*$", re.IGNORECASE)
_RATE_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
_SPAN_DAYS = {"h": 1 / 24, "d": 1, "": 1, "w": 7, "m": 30, "y": 365}


def parse_bitrate(text: str) -> float:
    """'2M', '500k', '2.5Mbit/s' -> bits per second."""
    match = _RATE.match(text)
    if not match:
        raise PlanError(f"bitrate {text!r} is not a rate; write e.g. 2M or 500k (bits/s)")
    return float(match.group(1)) * _RATE_UNITS[match.group(2).lower()]


def parse_retention(text: str) -> float:
    """'30d', '12h', '2w', '1y' (a bare number is days) -> days."""
    match = _SPAN.match(text)
    if not match:
        raise PlanError(f"retention {text!r} is not a duration; write e.g. 30d, 12h or 2w")
    return float(match.group(1)) * _SPAN_DAYS[match.group(2).lower()]


def check(demand: Demand) -> None:
    """PlanError naming the first value no deployment can have."""
    if demand.cameras < 1:
        raise PlanError("--cameras must be at least 1")
    if demand.cameras > 1_000_000:
        raise PlanError("--cameras above 1,000,000 is beyond any city; split the plan by region")
    if not 16e3 <= demand.bitrate_bps <= 100 * MBIT:
        raise PlanError("--bitrate must be between 16k and 100M per camera (e.g. 2M for 1080p)")
    if not 1 / 24 <= demand.retention_days <= 10 * 365:
        raise PlanError("--retention must be between 1h and 10y")
    if not 0 <= demand.analytics_share <= 1:
        raise PlanError("--analytics-share is the share of cameras analysed: 0 to 1 (e.g. 0.2)")
    if not 0 < demand.analytics_fps <= 30:
        raise PlanError("--analytics-fps must be above 0 and at most 30")
    if not 0 <= demand.viewer_share <= 1:
        raise PlanError("--viewer-share is the share of cameras watched live: 0 to 1")
    if not 0 <= demand.spool_hours <= 72:
        raise PlanError("--spool-hours must be between 0 and 72")
    if not 0.5 <= demand.cores_per_pod <= 128:
        raise PlanError("--cores-per-pod must be between 0.5 and 128")


def _replicas(cores: float, per_pod: float, *, minimum: int = MIN_REPLICAS) -> int:
    return max(minimum, math.ceil(cores / (per_pod * TARGET_UTILISATION)))


def plan(demand: Demand) -> Plan:
    """The deployment `demand` needs."""
    check(demand)
    n, bps = demand.cameras, demand.bitrate_bps
    # Recording is per packet and per byte: never cheaper than measured, dearer above.
    record = RECORD_CORES_PER_STREAM * max(1.0, bps / RECORD_MEASURED_BITRATE)
    ingest_cores = n * record
    ingest = _target("ingest", ingest_cores, n * RECORD_MIB_PER_STREAM, demand)
    analysed = math.ceil(n * demand.analytics_share)
    per_frame = 1 / DETECT_FPS_PER_CORE + 1 / MOTION_FPS_PER_CORE
    analytics_cores = analysed * demand.analytics_fps * per_frame
    analytics = (
        _target("analytics", analytics_cores, analysed * ANALYTICS_MIB_PER_CAMERA, demand)
        if analysed
        else TargetPlan("analytics", 0, 0.0, 0.0, 0.0, 0.0)
    )
    viewers = math.ceil(n * demand.viewer_share)
    playback = _target("playback", viewers * VIEWER_CORES, 0.0, demand)
    small = [_target(name, 0.25, 0.0, demand) for name in ("registry", "alerting", "evidence")]
    seconds = demand.retention_days * 86400
    storage_tib = n * bps / 8 * seconds / 2**40
    per_pod = n / ingest.replicas
    spool_gib = per_pod * bps / 8 * demand.spool_hours * 3600 / 2**30
    network = {
        "cameras -> ingest": n * bps / MBIT,
        "ingest -> object store": n * bps / MBIT,
        "ingest -> analytics (BGR24 frames)": analysed
        * demand.analytics_fps
        * ANALYTICS_FRAME_BYTES
        * 8
        / MBIT,
        "playback -> viewers": viewers * bps / MBIT,
    }
    return Plan(
        demand=demand,
        storage_tib=storage_tib,
        spool_gib_per_pod=spool_gib,
        targets=[ingest, analytics, playback, *small],
        network_mbps=network,
        index_rows_per_s=n / SEGMENT_S,
    )


def _target(name: str, cores: float, camera_mib: float, demand: Demand) -> TargetPlan:
    replicas = _replicas(cores, demand.cores_per_pod)
    memory_mib = replicas * PROCESS_BASE_MIB + camera_mib
    pod_cores = min(demand.cores_per_pod, max(0.25, cores / replicas / TARGET_UTILISATION))
    return TargetPlan(
        name=name,
        replicas=replicas,
        cores=cores,
        memory_gib=memory_mib / 1024,
        pod_cores=round(pod_cores, 2),
        pod_memory_gib=round(memory_mib / replicas / 1024 / TARGET_UTILISATION, 2),
    )
