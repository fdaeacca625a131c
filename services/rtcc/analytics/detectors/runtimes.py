"""The runtimes that can run the YOLO network: OpenVINO, ONNX Runtime, or cv2.dnn.

All three take the same blob (1, 3, size, size; RGB, 0..1) and return the same rows
(cv2.dnn's region-layer layout: centre, size, objectness, class scores), so the
detector's post-processing does not depend on where the network ran. OpenVINO and ONNX
Runtime run the graph `darknet_onnx` builds from the darknet files; each instance runs
on one thread (the process parallelises across cameras, detectors/shared.py).

Measured by ``bench/analytics_cost.py`` on the 2-core development VM (YOLOv3-tiny at
416 px, one thread, a forward pass): cv2.dnn ~52-68 ms, ONNX Runtime ~31, OpenVINO ~15
in its native precision (bfloat16 where the CPU has it, e.g. AVX512-BF16; f32
otherwise) and ~11 in INT8 (the model detectors/quantize.py makes at install).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from rtcc.analytics.detectors import quantize
from rtcc.analytics.detectors.darknet_onnx import DarknetGraph, build_onnx, decode_yolo

RUNTIMES = ("auto", "openvino", "onnxruntime", "opencv")
PRECISIONS = ("auto", "int8", "native")


class Runner(Protocol):
    name: str
    fallback: str  # why an asked-for precision is not used; "" when it is

    def run(self, blob: np.ndarray) -> np.ndarray: ...


def installed(runtime: str) -> bool:
    """Whether `runtime`'s Python package (and, for the ONNX ones, ``onnx``) is here and
    imports: one that is installed but broken is not chosen."""
    if runtime == "opencv":
        return True
    package = {"openvino": "openvino", "onnxruntime": "onnxruntime"}.get(runtime)
    if package is None:
        return False
    return all(_imports(p) for p in (package, "onnx"))


@cache
def _imports(package: str) -> bool:
    if importlib.util.find_spec(package) is None:
        return False
    try:
        importlib.import_module(package)
    except Exception:  # a missing shared library, an incompatible build...
        return False
    return True


def resolve(setting: str, *, cuda: bool = False, dnn_cuda: bool = False) -> str:
    """The runtime for `setting`. ``auto``: where the placement put the GPU — ONNX
    Runtime when its CUDA provider was chosen (`cuda`), cv2.dnn when only OpenCV's CUDA
    build was (`dnn_cuda`) — else, on the CPU, OpenVINO, ONNX Runtime, cv2.dnn, the
    first installed. An explicit choice that is not installed falls back the same way."""
    if setting not in RUNTIMES:
        raise ValueError(f"object runtime {setting!r}: expected one of {', '.join(RUNTIMES)}")
    order = ["onnxruntime"] if cuda else ["opencv"] if dnn_cuda else []
    order += ["openvino", "onnxruntime", "opencv"]
    if setting != "auto":
        order.insert(0, setting)
    return next(r for r in order if installed(r))


def to_blob(frame: np.ndarray, size: int) -> np.ndarray:
    """`frame` (BGR, uint8) as the network's input: (1, 3, size, size) RGB in 0..1.

    The same values as ``cv2.dnn.blobFromImage(frame, 1/255, (size, size), swapRB=True)``
    at a fifth of its cost (0.7 vs 3.4 ms for 768x576 -> 416 here): one bilinear resize
    of the bytes, then one conversion per plane."""
    small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)
    blob = np.empty((1, 3, size, size), np.float32)
    for plane in range(3):
        blob[0, plane] = small[:, :, 2 - plane]  # BGR -> RGB
    blob *= np.float32(1 / 255.0)
    return blob


class OpenCvRunner:
    name = "opencv"
    precision = "f32"
    fallback = ""

    def __init__(self, cfg: str, weights: bytes, backend: int, target: int) -> None:
        net = cv2.dnn.readNetFromDarknet(
            np.frombuffer(cfg.encode(), np.uint8), np.frombuffer(weights, np.uint8)
        )
        if net.empty():
            raise ValueError("the darknet files hold no network")
        net.setPreferableBackend(backend)
        net.setPreferableTarget(target)
        self._net = net
        self._outputs = net.getUnconnectedOutLayersNames()

    def run(self, blob: np.ndarray) -> np.ndarray:
        self._net.setInput(blob)
        rows: np.ndarray = np.vstack(self._net.forward(self._outputs))
        return rows


class _GraphRunner:
    """Decodes the raw yolo heads of a graph run by a subclass."""

    name = ""
    precision = "f32"
    fallback = ""

    def __init__(self, graph: DarknetGraph) -> None:
        self._graph = graph

    def _raw(self, blob: np.ndarray) -> Sequence[np.ndarray]:
        raise NotImplementedError

    def run(self, blob: np.ndarray) -> np.ndarray:
        g = self._graph
        heads = self._raw(blob)
        rows: np.ndarray = np.vstack(
            [
                decode_yolo(raw, head, g.width, g.height)
                for raw, head in zip(heads, g.heads, strict=True)
            ]
        )
        return rows


class OnnxRuntimeRunner(_GraphRunner):
    name = "onnxruntime"

    def __init__(self, graph: DarknetGraph, providers: Sequence[str]) -> None:
        super().__init__(graph)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(graph.model, options, providers=list(providers))
        self._graph = dataclasses.replace(graph, model=b"")  # the session holds its copy
        self._names = [h.output for h in graph.heads]
        self.providers = tuple(self._session.get_providers())

    def _raw(self, blob: np.ndarray) -> Sequence[np.ndarray]:
        out: list[np.ndarray] = self._session.run(self._names, {self._graph.input_name: blob})
        return out


class OpenVinoRunner(_GraphRunner):
    name = "openvino"

    def __init__(self, graph: DarknetGraph, int8: Path | None = None, device: str = "CPU") -> None:
        """`int8`: the quantized model (detectors/quantize.py) to run instead of the
        graph's own weights, reshaped to the graph's input size."""
        super().__init__(graph)
        import openvino as ov

        core = ov.Core()
        if int8 is not None:
            model = core.read_model(str(int8))
            model.reshape([1, 3, graph.height, graph.width])
        else:
            model = core.read_model(model=graph.model, weights=ov.Tensor(np.empty(0, np.uint8)))
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if device == "CPU":  # one thread: the process parallelises across cameras
            config.update(INFERENCE_NUM_THREADS=1, NUM_STREAMS=1)
        self._compiled = core.compile_model(model, device, config)
        self.device = device
        self._graph = dataclasses.replace(graph, model=b"")  # the compiled copy is enough
        self._request = self._compiled.create_infer_request()
        self._outputs = [self._compiled.output(h.output) for h in graph.heads]
        hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")  # an ov.Type
        native = str(getattr(hint, "get_type_name", lambda: hint)())  # bf16, f32
        self.precision = "int8" if int8 is not None else native

    def _raw(self, blob: np.ndarray) -> Sequence[np.ndarray]:
        self._request.infer({0: blob})
        # The request's buffers are reused by the next call: decode copies them first.
        return [self._request.get_tensor(o).data for o in self._outputs]


@lru_cache(maxsize=1)
def openvino_devices() -> tuple[str, ...]:
    """The devices OpenVINO's plugins see here (CPU, GPU, GPU.1, NPU...); () without it."""
    try:
        import openvino as ov

        return tuple(ov.Core().available_devices)
    except (ImportError, RuntimeError):
        return ()


def openvino_device(execution_provider: str, devices: Sequence[str]) -> str:
    """Where OpenVINO runs for ``analytics.execution_provider``: an Intel GPU (then NPU)
    when the setting is ``auto`` or ``openvino`` and the machine has one, else the CPU
    (``cpu`` and ``cuda`` keep it there: CUDA is ONNX Runtime's or OpenCV's)."""
    if execution_provider in ("auto", "openvino"):
        for kind in ("GPU", "NPU"):
            found = next((d for d in devices if d.split(".")[0] == kind), None)
            if found is not None:
                return found
    return "CPU"


def _open_openvino(
    graph: DarknetGraph, cfg: str, weights: bytes, precision: str, device: str
) -> OpenVinoRunner:
    """OpenVINO on `device` with the INT8 model when asked and usable; what could not be
    honoured (no INT8 model, a damaged one, a device that fails) falls back to the
    native graph and then to the CPU, the reason kept in ``fallback``."""
    found = quantize.Installed(None)
    if precision != "native":
        found = quantize.installed(quantize.source_digest(cfg, weights))
    reasons = [found.reason] if precision == "int8" and found.reason else []
    attempts: list[tuple[Path | None, str]] = []
    if found.path is not None:
        attempts.append((found.path, device))
    attempts += [(None, device)] + ([(None, "CPU")] if device != "CPU" else [])
    for index, (int8, where) in enumerate(attempts):
        try:
            runner = OpenVinoRunner(graph, int8, where)
            runner.run(np.zeros((1, 3, graph.height, graph.width), np.float32))
        except Exception as exc:  # OpenVINO raises RuntimeError and its own types
            if index == len(attempts) - 1:
                raise
            what = f"the INT8 model {int8}" if int8 is not None else f"device {where}"
            reasons.append(f"{what} could not be used ({str(exc).splitlines()[0][:200]})")
            continue
        runner.fallback = "; ".join(reasons)
        return runner
    raise AssertionError("unreachable: the last attempt returns or raises")


def open_runner(
    runtime: str,
    cfg: str,
    weights: bytes,
    size: int,
    *,
    precision: str = "native",
    device: str = "CPU",
    backend: int = cv2.dnn.DNN_BACKEND_OPENCV,
    target: int = cv2.dnn.DNN_TARGET_CPU,
    providers: Sequence[str] = ("CPUExecutionProvider",),
) -> Any:
    """A runner of the network in `cfg`/`weights` at `size` px on `runtime` (resolved).

    `precision` (OpenVINO only): ``native`` (bf16 or f32, as the CPU computes best),
    ``int8`` (the quantized model made for these files, if installed) or ``auto`` (INT8
    when installed, else native). `device`: OpenVINO's (`openvino_device`). A runner
    that could not honour ``int8`` says why in its ``fallback``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if runtime == "opencv":
        runner: Any = OpenCvRunner(cfg, weights, backend, target)
    elif runtime in ("onnxruntime", "openvino"):
        graph = build_onnx(cfg, weights, size)
        if runtime == "onnxruntime":
            runner = OnnxRuntimeRunner(graph, providers)
        else:
            return _open_openvino(graph, cfg, weights, precision, device)
    else:
        raise ValueError(f"object runtime {runtime!r} is not one to open")
    runner.fallback = "INT8 runs on OpenVINO only" if precision == "int8" else ""
    return runner
