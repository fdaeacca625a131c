"""YOLOv3-tiny in INT8 for OpenVINO: post-training quantization by NNCF, once, at install.

OpenVINO runs the network 1.5x faster in INT8 than in its native bf16/f32 on the
development VM (11.7 vs 17.5 ms a 416 px forward pass, one core; AVX512-VNNI), with
person recall and IDF1 unchanged on the natural-footage harness (BENCHMARKS.md). NNCF's
post-training quantization needs representative frames: 50 frames of people and street
from the second half of vtest.avi (infra/install-footage.sh), which the cost benchmark
(first half) never scores; the tracks harness's whole-clip figures and the tracker
grid's held-out half do include those frames (a small leak: calibration only sets
activation ranges). ``make venv`` and the image build run this module; the
result lives beside the interpreter (`models_dir`), with a manifest naming the cfg and
weights it was made from, so a model for other weights is never used. Idempotent: an
up-to-date model is left alone. The service only reads it (detectors/runtimes.py).

    python -m rtcc.analytics.detectors.quantize [--footage PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAME = "yolov3-tiny-int8"
SIZE = 416  # quantized at the whole-frame size; tiles reshape it (convolutions only)
FIRST_FRAME, EVERY, FRAMES = 398, 8, 50  # calibration: source frames 398, 406, ...
FORMAT = 2  # bump when the graph or the calibration changes: older models are rebuilt


def models_dir() -> Path:
    """Where derived models live: ``$RTCC_MODELS_DIR``, else ``<venv>/share/rtcc/models``."""
    configured = os.environ.get("RTCC_MODELS_DIR")
    return Path(configured) if configured else Path(sys.prefix) / "share" / "rtcc" / "models"


def source_digest(cfg: str, weights: bytes) -> str:
    """What a quantized model was made from: SHA-256 of the (patched) cfg and the weights."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    digest.update(cfg.encode())
    digest.update(weights)
    return digest.hexdigest()


@dataclass(frozen=True)
class Installed:
    """The quantized model for given weights, or why there is none."""

    path: Path | None
    reason: str = ""


def installed(digest: str, directory: Path | None = None) -> Installed:
    """The INT8 model made from the files with `digest`, if one is installed."""
    directory = directory or models_dir()
    xml, manifest = directory / f"{NAME}.xml", directory / f"{NAME}.json"
    if not (xml.is_file() and xml.with_suffix(".bin").is_file() and manifest.is_file()):
        return Installed(None, f"no INT8 model in {directory} (run `make venv`)")
    try:
        facts = json.loads(manifest.read_text())
        made_from, files = facts.get("source_sha256"), facts.get("files_sha256")
    except (OSError, ValueError, AttributeError):
        made_from = files = None
    if made_from != digest:
        return Installed(None, f"the INT8 model in {directory} was made from other weights")
    if files != _files_digest(xml):
        return Installed(None, f"the INT8 model in {directory} is damaged (run `make venv`)")
    return Installed(xml)


def _files_digest(xml: Path) -> str:
    """SHA-256 of the model's .xml and .bin (9 MB: a few ms)."""
    digest = hashlib.sha256()
    for path in (xml, xml.with_suffix(".bin")):
        try:
            digest.update(path.read_bytes())
        except OSError:
            return ""
    return digest.hexdigest()


def quantize(cfg: str, weights: bytes, frames: list[np.ndarray], out: Path) -> Path:
    """Quantize the network to INT8 with `frames` (BGR) as calibration; write it to `out`."""
    os.environ.setdefault("NNCF_CI", "1")  # NNCF's own switch: no telemetry is sent
    import nncf
    import openvino as ov

    from rtcc.analytics.detectors.darknet_onnx import build_onnx
    from rtcc.analytics.detectors.runtimes import to_blob

    graph = build_onnx(cfg, weights, SIZE)
    model = ov.Core().read_model(model=graph.model, weights=ov.Tensor(np.empty(0, np.uint8)))
    calibration = nncf.Dataset([to_blob(frame, SIZE) for frame in frames])
    quantized = nncf.quantize(
        model, calibration, subset_size=len(frames), preset=nncf.QuantizationPreset.MIXED
    )
    out.mkdir(parents=True, exist_ok=True)
    # Written beside its place and renamed in; the manifest, written last, names the
    # files' digest, so a half-replaced or damaged model is never taken for current.
    with tempfile.TemporaryDirectory(dir=out, prefix=".quantize-") as scratch:
        tmp = Path(scratch) / f"{NAME}.xml"
        ov.save_model(quantized, str(tmp), compress_to_fp16=False)
        tmp.with_suffix(".bin").replace(out / f"{NAME}.bin")
        tmp.replace(out / f"{NAME}.xml")
    manifest = {
        "source_sha256": source_digest(cfg, weights),
        "files_sha256": _files_digest(out / f"{NAME}.xml"),
        "calibration": f"vtest.avi source frames {FIRST_FRAME}+{EVERY}k, {len(frames)} frames",
        "nncf": nncf.__version__,
        "openvino": ov.__version__,
    }
    partial = out / f".{NAME}.json.{os.getpid()}"
    partial.write_text(json.dumps(manifest, indent=2) + "\n")
    partial.replace(out / f"{NAME}.json")
    return out / f"{NAME}.xml"


def calibration_frames(footage: Path) -> list[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(footage))
    frames: list[np.ndarray] = []
    index = 0
    try:
        while len(frames) < FRAMES:
            ok, frame = capture.read()
            if not ok:
                break
            if index >= FIRST_FRAME and (index - FIRST_FRAME) % EVERY == 0:
                frames.append(np.asarray(frame, np.uint8))
            index += 1
    finally:
        capture.release()
    if len(frames) < FRAMES:
        raise SystemExit(f"quantize: {footage} gave {len(frames)} of {FRAMES} calibration frames")
    return frames


def main(argv: list[str] | None = None) -> int:
    from rtcc.analytics.detectors.objects import patched_cfg, yolo_files
    from rtcc.sim.footage import locate_footage

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footage", type=Path, help="calibration video (default: vtest.avi)")
    parser.add_argument("--out", type=Path, help=f"output directory (default {models_dir()})")
    args = parser.parse_args(argv)
    out = args.out or models_dir()
    weights_path, cfg_path = yolo_files()
    cfg, weights = patched_cfg(cfg_path.read_text()), weights_path.read_bytes()
    if installed(source_digest(cfg, weights), out).path is not None:
        return 0
    footage = args.footage or locate_footage(verify=True)
    started = time.monotonic()
    path = quantize(cfg, weights, calibration_frames(footage), out)
    print(f"quantize: YOLOv3-tiny INT8 -> {path} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
