"""`rtcc plan`: storage, replicas, CPU, memory and network for a city, and Helm values.

    rtcc plan --cameras 1000 --bitrate 2M --retention 30d --analytics-share 0.2
    rtcc plan ... --helm-values city.yaml     # then: helm install -f city.yaml

Impossible numbers end with a sentence naming the value, exit status 2.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import yaml

from rtcc.capacity import model as m
from rtcc.capacity.model import Demand, Plan, parse_bitrate, parse_retention, plan


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan", help="size a deployment: storage, replicas, CPU, memory, network"
    )
    parser.add_argument("--cameras", type=int, required=True, help="cameras recorded")
    parser.add_argument("--bitrate", required=True, help="per camera, e.g. 2M or 500k")
    parser.add_argument("--retention", required=True, help="how long video is kept: 30d, 2w")
    parser.add_argument(
        "--analytics-share", type=float, default=0.0, help="share of cameras analysed, 0-1"
    )
    parser.add_argument("--analytics-fps", type=float, default=5.0, help="frames/s analysed")
    parser.add_argument(
        "--viewer-share", type=float, default=0.05, help="share of cameras watched live at once"
    )
    parser.add_argument(
        "--spool-hours", type=float, default=1.0, help="object-store outage the spool bridges"
    )
    parser.add_argument("--cores-per-pod", type=float, default=2.0, help="CPU of one pod")
    parser.add_argument("--helm-values", type=Path, help="write Helm values for this plan")
    parser.set_defaults(run=run, is_async=False)


def run(args: argparse.Namespace) -> int:
    demand = Demand(
        cameras=args.cameras,
        bitrate_bps=parse_bitrate(args.bitrate),
        retention_days=parse_retention(args.retention),
        analytics_share=args.analytics_share,
        analytics_fps=args.analytics_fps,
        viewer_share=args.viewer_share,
        spool_hours=args.spool_hours,
        cores_per_pod=args.cores_per_pod,
    )
    result = plan(demand)
    print(render(result))
    if args.helm_values is not None:
        args.helm_values.write_text(yaml.safe_dump(helm_values(result), sort_keys=False))
        print(f"\nHelm values written to {args.helm_values}")
    return 0


def render(result: Plan) -> str:
    d = result.demand
    lines = [
        f"{d.cameras} cameras at {d.bitrate_bps / 1e6:g} Mbit/s, kept {d.retention_days:g} days, "
        f"{d.analytics_share:.0%} analysed at {d.analytics_fps:g} fps, "
        f"{d.viewer_share:.0%} watched live",
        "",
        f"storage (recordings)      {result.storage_tib:10.1f} TiB",
        f"spool per ingest pod      {result.spool_gib_per_pod:10.1f} GiB  "
        f"({d.spool_hours:g} h of object-store outage)",
        f"index rows                {result.index_rows_per_s:10.0f} /s",
        f"cameras per ingest pod    {d.cameras / result.target('ingest').replicas:10.0f}  "
        f"planned; at most {result.ingest_max_cameras} (RTCC_INGEST__MAX_CAMERAS: "
        "the pod's cores at 100 %)",
        "",
        f"{'target':<12}{'replicas':>9}{'cores':>9}{'memory GiB':>12}"
        f"{'pod cores':>11}{'pod GiB':>9}",
    ]
    for t in result.targets:
        lines.append(
            f"{t.name:<12}{t.replicas:>9}{t.cores:>9.1f}{t.memory_gib:>12.1f}"
            f"{t.pod_cores:>11.2f}{t.pod_memory_gib:>9.2f}"
        )
    lines.append(f"{'total':<12}{'':>9}{result.cores:>9.1f}{result.memory_gib:>12.1f}")
    lines += ["", "network (Mbit/s)"]
    lines += [f"  {name:<36}{mbps:>10.0f}" for name, mbps in result.network_mbps.items()]
    lines += [
        "",
        "Model: BENCHMARKS.md figures, fitted to the multi-process city run (bench/city.py): "
        f"recording {m.RECORD_CORES_PER_STREAM:.2%} of a core a camera at "
        f"{m.RECORD_MEASURED_BITRATE / 1e6:g} Mbit/s (+{m.RECORD_CORES_PER_MBIT:.1%} per extra "
        f"Mbit/s) plus {m.INGEST_REPLICA_CORES:.1%} per ingest replica, "
        f"{m.RECORD_MIB_PER_STREAM:g} MiB a camera; analytics "
        f"{m.analytics_core_s_per_frame() * 1000:.0f} ms of a core a frame and "
        f"{m.ANALYTICS_MIB_PER_CAMERA:g} MiB an analysed camera; a live viewer "
        f"{m.VIEWER_CORES:.0%} of a core; {m.PROCESS_BASE_MIB:g} MiB a process; "
        f"{m.TARGET_UTILISATION:.0%} target utilisation, at least {m.MIN_REPLICAS} replicas.",
    ]
    return "\n".join(lines)


def helm_values(result: Plan) -> dict[str, Any]:
    """Values for helm/rtcc: replicas, requests per pod, the spool claim size, and
    the most cameras an ingest pod records."""

    def resources(name: str) -> dict[str, Any]:
        t = result.target(name)
        request_gib = max(0.5, t.pod_memory_gib)
        return {
            "requests": {"cpu": f"{max(t.pod_cores, 0.25):g}", "memory": f"{request_gib:g}Gi"},
            "limits": {"memory": f"{math.ceil(request_gib * 2)}Gi"},
        }

    values: dict[str, Any] = {}
    for name in ("registry", "ingest", "analytics", "alerting", "evidence", "playback"):
        t = result.target(name)
        values[name] = {"replicas": t.replicas, "resources": resources(name)}
    spool = max(5, math.ceil(result.spool_gib_per_pod * 1.25))  # 25 % over the outage
    values["ingest"]["persistence"] = {
        "enabled": True,
        "size": f"{spool}Gi",
        "accessModes": ["ReadWriteOnce"],
    }
    values["config"] = {"env": {"RTCC_INGEST__MAX_CAMERAS": str(result.ingest_max_cameras)}}
    return values
