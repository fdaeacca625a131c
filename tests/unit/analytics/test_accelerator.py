"""Where detectors run (rtcc.analytics.accelerator): the choice, and the models with it."""

from __future__ import annotations

import cv2
import pytest

from rtcc.analytics import accelerator
from rtcc.analytics.accelerator import CPU_EP, CUDA_EP, OPENVINO_EP, Available, choose
from rtcc.analytics.detectors.factory import build_detectors
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.core.config import AnalyticsSettings

NOTHING = Available()
GPU = Available(dnn_cuda=True, onnx_providers=(CUDA_EP, CPU_EP))


def test_cpu_is_the_default_and_auto_takes_what_is_there() -> None:
    cpu = choose("cpu", GPU)
    assert (cpu.name, cpu.dnn_backend, cpu.dnn_target) == (
        "cpu", cv2.dnn.DNN_BACKEND_OPENCV, cv2.dnn.DNN_TARGET_CPU,
    )  # fmt: skip
    assert cpu.onnx_providers == (CPU_EP,) and not cpu.onnx_cuda
    auto = choose("auto", GPU)
    assert (auto.name, auto.dnn_backend, auto.dnn_target) == (
        "cuda", cv2.dnn.DNN_BACKEND_CUDA, cv2.dnn.DNN_TARGET_CUDA,
    )  # fmt: skip
    assert auto.onnx_providers == (CUDA_EP, CPU_EP) and auto.onnx_cuda and auto.reason == ""
    assert choose("auto", NOTHING).name == "cpu" and choose("auto", NOTHING).reason == ""


def test_a_missing_accelerator_falls_back_to_the_cpu_and_says_why() -> None:
    asked = choose("cuda", NOTHING)
    assert asked.name == "cpu" and asked.onnx_providers == (CPU_EP,)
    assert "cuda was asked for" in asked.reason and "running on the CPU" in asked.reason
    # OpenVINO only in ONNX Runtime: OCR uses it, cv2.dnn stays on the CPU.
    split = choose("auto", Available(onnx_providers=(OPENVINO_EP, CPU_EP)))
    assert split.dnn_backend == cv2.dnn.DNN_BACKEND_OPENCV
    assert split.onnx_providers == (OPENVINO_EP, CPU_EP)
    with pytest.raises(ValueError, match="expected one of cpu, auto, cuda, openvino"):
        choose("tpu", NOTHING)


def test_this_machines_choice_loads_working_models() -> None:
    place = accelerator.placement("auto")
    assert place.name in ("cpu", "cuda", "openvino")
    detector = YoloTinyDetector(backend=place.dnn_backend, target=place.dnn_target)
    assert detector.status().ready, detector.status().reason
    # RapidOCR takes the CUDA flag; without a GPU build it runs on the CPU.
    assert PlateDetector(use_cuda=place.onnx_cuda).status().ready


def test_the_factory_builds_the_gate_from_settings() -> None:
    config = pb.DetectorConfig(camera_id="cam_1", detectors=[pb.DETECTOR_TYPE_OBJECT])
    gated = build_detectors(config, AnalyticsSettings(execution_provider="auto"))
    assert gated.gate is not None and [d.name for d in gated.gate.tile_detectors] == [
        "objects-yolov3-tiny"
    ]
    plain = build_detectors(config, AnalyticsSettings(region_detection=False))
    assert plain.gate is not None and plain.gate.tile_detectors == []
