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

from rtcc.core.config import DEFAULT_SEGMENT_SECONDS

MBIT = 1_000_000

# -- measured (BENCHMARKS.md) ---------------------------------------------------------
# "City scale" (bench/city.py): the chart's production topology as real processes on
# one machine (3 ingest, 2 analytics, 2 playback, 2 registry/alerting/evidence over
# PostgreSQL, MinIO and NATS), 640x360 cameras at ~1.05 Mbit/s. Fitted to the 10- and
# the 100-camera run on the same 3 ingest replicas (ingest CPU 16.8 % and 80.6 %):
#   ingest CPU = replicas x INGEST_REPLICA_CORES + cameras x RECORD_CORES_PER_STREAM
# gives 3.2 % a replica and 0.71 % a camera; the 100-camera run, starved by the shared
# machine, stored little, so the storing it skipped (~0.2 % a camera at 1 Mbit/s, from
# "Ingest: recording per core") is added back: 0.9 %.
INGEST_REPLICA_CORES = 0.032  # a replica's own work: leases, watches, health
RECORD_CORES_PER_STREAM = 0.009  # per camera at RECORD_MEASURED_BITRATE
RECORD_MEASURED_BITRATE = 1.05 * MBIT
# Ingest RSS: the city fit gives 2.7 MiB a camera over a ~196 MiB base; the
# single-process bench's 5.2 MiB ("Ingest: recording per core") is kept, the dearer.
RECORD_MIB_PER_STREAM = 5.2
# "Ingest: recording per core": storing costs ~15 ms of CPU per 1 MB segment, ~0.4 % of
# a core per 2 Mbit/s stream; the rest of a stream's cost is per packet (frame rate),
# not per byte. So a stream costs RECORD_CORES_PER_STREAM plus this per extra Mbit/s.
RECORD_CORES_PER_MBIT = 0.002
# "City scale": the analytics processes' CPU over the frames they processed (motion,
# YOLOv3-tiny, tracking, events, frames from ingest). Memory: the models are the
# process's, shared by its cameras (analytics.model_instances sets of them, 2 by
# default: YOLOv3-tiny 416 + its 128 px tile net + the plate OCR measured 289 MiB a
# set on OpenVINO INT8, the OpenVINO runtime itself included; 480-499 on cv2.dnn in
# the same session, 432 when first measured), plus each analysed camera's own state
# (motion model, tracker, frame queue: assumed 20 MiB). Before sharing, each camera
# held its own set (441 MiB a camera).
# 2026-12-04, 20 cameras, 10 analysed at 1 fps, YOLOv3-tiny on OpenVINO INT8 (the
# default): 17 ms; the same run on cv2.dnn 59 ms (the earlier 10-camera runs on cv2.dnn:
# 75 and 91). The simulator's scenes, the frame transport from ingest included.
ANALYTICS_CORE_S_PER_FRAME = 0.017
# "Analytics at a city's cost": the analyser alone on a crowded natural scene (vtest,
# people everywhere), OpenVINO INT8, regions + rate: 16.2 ms a frame.
ANALYTICS_BUSY_CORE_S_PER_FRAME = 0.0162
ANALYTICS_MODEL_SET_MIB = 290.0
ANALYTICS_MODEL_INSTANCES = 2
ANALYTICS_MIB_PER_CAMERA = 20.0
# "Figures": YOLOv3-tiny 416x416 on OpenVINO INT8 at 88.4 frames/s a core (cv2.dnn:
# 17.6); the MOG2 motion gate at 1232. The plan takes the dearest of this, the busy
# scene's and the city's per-frame figure.
DETECT_FPS_PER_CORE = 88.4
MOTION_FPS_PER_CORE = 1232.0
# "Playback": an extra H.264 passthrough viewer costs ~1.0 % of a core (103 a core).
VIEWER_CORES = 0.010
# One index row per segment, of the default length (ingest.segment_seconds).
SEGMENT_S = DEFAULT_SEGMENT_SECONDS
# "City scale": RSS of a process before its cameras (registry 149, alerting 148,
# evidence 171, analytics ~180, ingest ~196 fitted, playback 208 MiB); rounded up.
PROCESS_BASE_MIB = 220.0

# -- derived from formats, not measured -----------------------------------------------
# Analytics reads frames as BGR24 at most 640 px wide (analytics/frames.py): 640x360x3.
ANALYTICS_FRAME_BYTES = 640 * 360 * 3

# -- ASSUMED (not measured yet; replace with a pilot's figures) -----------------------
TARGET_UTILISATION = 0.7  # the chart's HPA target: leave 30 % headroom
MIN_REPLICAS = 2  # every scalable target survives the loss of one pod


def record_cores(bitrate_bps: float) -> float:
    """Cores one camera's recording costs at `bitrate_bps` (never below the measured)."""
    extra_mbit = max(0.0, bitrate_bps - RECORD_MEASURED_BITRATE) / MBIT
    return RECORD_CORES_PER_STREAM + RECORD_CORES_PER_MBIT * extra_mbit


def analytics_core_s_per_frame() -> float:
    """Core-seconds per analysed frame: the dearest of the city run, a busy scene and
    the detectors alone."""
    detectors = 1 / DETECT_FPS_PER_CORE + 1 / MOTION_FPS_PER_CORE
    return max(ANALYTICS_CORE_S_PER_FRAME, ANALYTICS_BUSY_CORE_S_PER_FRAME, detectors)


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
    # The most cameras one ingest pod records (IngestSettings.max_cameras): what its
    # cores sustain at 100 %, so the planned 70 % leaves room to take over a failed
    # pod's cameras, and a pod past its limit sheds cameras instead of losing them all.
    ingest_max_cameras: int = 0

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


def _replicas(
    cores: float, per_pod: float, *, replica_cores: float = 0.0, minimum: int = MIN_REPLICAS
) -> int:
    """Pods for `cores` of work when each pod also spends `replica_cores` on itself."""
    usable = per_pod * TARGET_UTILISATION - replica_cores
    if usable <= 0:
        raise PlanError(f"--cores-per-pod {per_pod:g} leaves nothing for cameras; give pods more")
    return max(minimum, math.ceil(cores / usable))


def plan(demand: Demand) -> Plan:
    """The deployment `demand` needs."""
    check(demand)
    n, bps = demand.cameras, demand.bitrate_bps
    # Recording is per packet and per byte: never cheaper than measured, dearer above.
    ingest = _target(
        "ingest", n * record_cores(bps), n * RECORD_MIB_PER_STREAM, demand,
        replica_cores=INGEST_REPLICA_CORES,
    )  # fmt: skip
    analysed = math.ceil(n * demand.analytics_share)
    per_frame = analytics_core_s_per_frame()
    analytics_cores = analysed * demand.analytics_fps * per_frame
    analytics = (
        _target(
            "analytics",
            analytics_cores,
            analysed * ANALYTICS_MIB_PER_CAMERA,
            demand,
            replica_mib=ANALYTICS_MODEL_INSTANCES * ANALYTICS_MODEL_SET_MIB,
        )
        if analysed
        else TargetPlan("analytics", 0, 0.0, 0.0, 0.0, 0.0)
    )
    viewers = math.ceil(n * demand.viewer_share)
    playback = _target("playback", viewers * VIEWER_CORES, 0.0, demand)
    small = [_target(name, 0.25, 0.0, demand) for name in ("registry", "alerting", "evidence")]
    seconds = demand.retention_days * 86400
    storage_tib = n * bps / 8 * seconds / 2**40
    per_pod = n / ingest.replicas
    max_cameras = max(
        math.ceil(per_pod),
        math.floor((demand.cores_per_pod - INGEST_REPLICA_CORES) / record_cores(bps)),
    )
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
        ingest_max_cameras=max_cameras,
    )


def _target(
    name: str,
    work: float,
    camera_mib: float,
    demand: Demand,
    *,
    replica_cores: float = 0.0,
    replica_mib: float = 0.0,
) -> TargetPlan:
    """`work` cores spread over replicas that each also spend `replica_cores` and hold
    `replica_mib` above the process base."""
    replicas = _replicas(work, demand.cores_per_pod, replica_cores=replica_cores)
    cores = work + replicas * replica_cores
    memory_mib = replicas * (PROCESS_BASE_MIB + replica_mib) + camera_mib
    pod_cores = min(demand.cores_per_pod, max(0.25, cores / replicas / TARGET_UTILISATION))
    return TargetPlan(
        name=name,
        replicas=replicas,
        cores=cores,
        memory_gib=memory_mib / 1024,
        pod_cores=round(pod_cores, 2),
        pod_memory_gib=round(memory_mib / replicas / 1024 / TARGET_UTILISATION, 2),
    )
