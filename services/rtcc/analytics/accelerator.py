"""Where the detectors run: the ``analytics.execution_provider`` setting made concrete.

``cpu`` (the default) pins every model to the CPU, as before. ``auto`` picks what the
machine has: CUDA first, then OpenVINO, else the CPU. ``cuda`` and ``openvino`` ask for
that one and fall back to the CPU (saying why in ``Placement.reason``) when the installed
OpenCV / ONNX Runtime builds lack it, so a missing driver never stops a camera.

Two runtimes are involved: OpenCV's dnn module (YOLOv3-tiny: a backend and a target)
and ONNX Runtime (RapidOCR's PP-OCR models: an ordered providers list). The decision
is pure given what is available (``Available``), so it is unit-tested without hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2

CPU_EP = "CPUExecutionProvider"
CUDA_EP = "CUDAExecutionProvider"
OPENVINO_EP = "OpenVINOExecutionProvider"
PROVIDERS = ("cpu", "auto", "cuda", "openvino")


@dataclass(frozen=True)
class Available:
    """What the installed runtimes can use on this machine."""

    dnn_cuda: bool = False
    dnn_openvino: bool = False
    onnx_providers: tuple[str, ...] = (CPU_EP,)


@dataclass(frozen=True)
class Placement:
    """The chosen place for each runtime; ``reason`` explains a fallback to the CPU."""

    name: str  # cpu, cuda or openvino: where cv2.dnn runs
    dnn_backend: int
    dnn_target: int
    onnx_providers: tuple[str, ...]
    reason: str = ""

    @property
    def onnx_cuda(self) -> bool:
        return CUDA_EP in self.onnx_providers


def _dnn(name: str) -> tuple[int, int]:
    if name == "cuda":
        return cv2.dnn.DNN_BACKEND_CUDA, cv2.dnn.DNN_TARGET_CUDA
    if name == "openvino":
        return cv2.dnn.DNN_BACKEND_INFERENCE_ENGINE, cv2.dnn.DNN_TARGET_CPU
    return cv2.dnn.DNN_BACKEND_OPENCV, cv2.dnn.DNN_TARGET_CPU


def choose(setting: str, available: Available) -> Placement:
    """The placement for ``setting`` (one of ``PROVIDERS``) on a machine with ``available``."""
    if setting not in PROVIDERS:
        raise ValueError(f"execution provider {setting!r}: expected one of {', '.join(PROVIDERS)}")
    present = {
        "cuda": available.dnn_cuda or CUDA_EP in available.onnx_providers,
        "openvino": available.dnn_openvino or OPENVINO_EP in available.onnx_providers,
    }
    if setting == "auto":
        wanted = next((n for n in ("cuda", "openvino") if present[n]), "cpu")
    else:
        wanted = setting
    reason = ""
    if wanted != "cpu" and not present[wanted]:
        reason = (
            f"{wanted} was asked for but neither OpenCV nor ONNX Runtime here supports it "
            "(install the GPU / OpenVINO builds); running on the CPU"
        )
        wanted = "cpu"
    dnn_ok = {"cpu": True, "cuda": available.dnn_cuda, "openvino": available.dnn_openvino}
    dnn_name = wanted if dnn_ok[wanted] else "cpu"
    onnx_ep = {"cpu": None, "cuda": CUDA_EP, "openvino": OPENVINO_EP}[wanted]
    providers: tuple[str, ...] = (CPU_EP,)
    if onnx_ep is not None and onnx_ep in available.onnx_providers:
        providers = (onnx_ep, CPU_EP)
    backend, target = _dnn(dnn_name)
    return Placement(dnn_name, backend, target, providers, reason)


@lru_cache(maxsize=1)
def available() -> Available:
    """What this machine's OpenCV and ONNX Runtime builds can use (probed once)."""
    try:
        cuda = cv2.cuda.getCudaEnabledDeviceCount() > 0
    except (cv2.error, AttributeError):
        cuda = False
    try:
        openvino = bool(cv2.dnn.getAvailableTargets(cv2.dnn.DNN_BACKEND_INFERENCE_ENGINE))
    except (cv2.error, AttributeError):
        openvino = False
    try:
        import onnxruntime

        providers = tuple(onnxruntime.get_available_providers())
    except ImportError:
        providers = (CPU_EP,)
    return Available(cuda, openvino, providers)


def placement(setting: str = "cpu") -> Placement:
    """``choose`` on this machine."""
    return choose(setting, available())
