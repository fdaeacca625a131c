"""A darknet YOLO network (cfg + weights) as an ONNX graph, built in memory.

cv2.dnn reads darknet files directly, but ONNX Runtime (CPU, CUDA) and OpenVINO read
ONNX; no converted file ships in a package here, so the graph is built from the same
cfg and weights when the model loads (YOLOv3-tiny: well under a second). Batch norm is
folded into each convolution, as darknet does at inference. The graph stops at the
``[yolo]`` layers' raw convolution outputs; `decode_yolo` turns them into the rows
cv2.dnn's region layer gives (centre, size, objectness, class scores), so the
detector's post-processing is the same whichever runtime ran the network.

Supported layers: what YOLOv3/v4-tiny use (convolutional with or without batch norm,
leaky or linear activation, maxpool, route with one or two inputs, upsample, yolo).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LEAKY_SLOPE = 0.1
BN_EPS = 1e-5  # as cv2.dnn's darknet importer
CLASS_THRESHOLD = 0.2  # cv2.dnn's region layer zeroes class scores at or below this


class DarknetError(ValueError):
    """The cfg or weights cannot be turned into a graph (unsupported or truncated)."""


@dataclass
class YoloHead:
    """One ``[yolo]`` layer: which anchors (pixels at the net's input) and how many classes."""

    output: str
    anchors: list[tuple[float, float]]
    classes: int


@dataclass
class DarknetGraph:
    """The ONNX model (serialized) and what decoding its outputs needs."""

    model: bytes
    input_name: str
    width: int
    height: int
    heads: list[YoloHead] = field(default_factory=list)


def parse_cfg(text: str) -> list[dict[str, str]]:
    """The cfg's sections in order, each a dict with its ``type`` ("net", "convolutional"...)."""
    sections: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append({"type": line.strip("[]").strip()})
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][key.strip()] = value.strip()
    if not sections or sections[0]["type"] not in ("net", "network"):
        raise DarknetError("the cfg does not start with a [net] section")
    return sections


def build_onnx(cfg_text: str, weights: bytes, size: int | None = None) -> DarknetGraph:
    """The network of `cfg_text` with `weights` (a darknet .weights file's bytes), for
    a square input of `size` pixels (the cfg's own by default)."""
    from onnx import TensorProto, helper, numpy_helper

    sections = parse_cfg(cfg_text)
    net = sections[0]
    width, height = int(net.get("width", 416)), int(net.get("height", 416))
    if size is not None:
        width = height = size
    channels = int(net.get("channels", 3))
    major, minor, _revision = np.frombuffer(weights[:12], np.int32)
    offset = 12 + (8 if major * 10 + minor >= 2 else 4)
    params = np.frombuffer(weights, np.float32, offset=offset)
    taken = 0

    def take(n: int) -> np.ndarray:
        nonlocal taken
        if taken + n > params.size:
            raise DarknetError("the weights file is shorter than the cfg needs")
        chunk = params[taken : taken + n]
        taken += n
        return chunk

    nodes: list[object] = []
    inits: list[object] = []
    outputs: list[str] = []  # each layer's output name, by layer index
    depth: list[int] = []  # ... and its channel count
    heads: list[YoloHead] = []
    current, c = "input", channels
    for index, s in enumerate(sections[1:]):
        kind = s["type"]
        name = f"l{index}"
        if kind == "convolutional":
            filters, size = int(s["filters"]), int(s["size"])
            stride = int(s.get("stride", 1))
            pad = size // 2 if int(s.get("pad", 0)) else int(s.get("padding", 0))
            if int(s.get("groups", 1)) != 1:
                raise DarknetError(f"layer {index}: grouped convolutions are not supported")
            if int(s.get("batch_normalize", 0)):
                beta, gamma = take(filters), take(filters)
                mean, var = take(filters), take(filters)
                w = take(filters * c * size * size).reshape(filters, c, size, size)
                scale = gamma / np.sqrt(var + BN_EPS)
                w = w * scale[:, None, None, None]
                b = beta - mean * scale
            else:
                b = take(filters)
                w = take(filters * c * size * size).reshape(filters, c, size, size)
            inits += [
                numpy_helper.from_array(np.ascontiguousarray(w, np.float32), f"{name}_w"),
                numpy_helper.from_array(np.ascontiguousarray(b, np.float32), f"{name}_b"),
            ]
            conv = f"{name}_conv"
            nodes.append(
                helper.make_node(
                    "Conv", [current, f"{name}_w", f"{name}_b"], [conv],
                    kernel_shape=[size, size], strides=[stride, stride], pads=[pad] * 4,
                )
            )  # fmt: skip
            activation = s.get("activation", "linear")
            if activation == "leaky":
                nodes.append(helper.make_node("LeakyRelu", [conv], [name], alpha=LEAKY_SLOPE))
            elif activation == "linear":
                name = conv
            else:
                raise DarknetError(f"layer {index}: activation {activation!r} is not supported")
            current, c = name, filters
        elif kind == "maxpool":
            size, stride = int(s["size"]), int(s.get("stride", 1))
            # darknet pads (size - 1) after the input, so stride 1 keeps the size.
            extra = size - 1 if stride == 1 else 0
            nodes.append(
                helper.make_node(
                    "MaxPool", [current], [name], kernel_shape=[size, size],
                    strides=[stride, stride], pads=[0, 0, extra, extra],
                )
            )  # fmt: skip
            current = name
        elif kind == "upsample":
            factor = float(s.get("stride", 2))
            scales = np.array([1, 1, factor, factor], np.float32)
            inits.append(numpy_helper.from_array(scales, f"{name}_s"))
            nodes.append(
                helper.make_node("Resize", [current, "", f"{name}_s"], [name], mode="nearest")
            )
            current = name
        elif kind == "route":
            layers = [int(v) for v in s["layers"].split(",")]
            picked = [li if li >= 0 else index + li for li in layers]
            if any(li < 0 or li >= index for li in picked) or "groups" in s:
                raise DarknetError(f"layer {index}: route {s['layers']} is not supported")
            if len(picked) == 1:
                current, c = outputs[picked[0]], depth[picked[0]]
            else:
                nodes.append(
                    helper.make_node("Concat", [outputs[li] for li in picked], [name], axis=1)
                )
                current, c = name, sum(depth[li] for li in picked)
        elif kind == "yolo":
            mask = [int(v) for v in s["mask"].split(",")]
            values = [float(v) for v in s["anchors"].split(",")]
            pairs = list(zip(values[0::2], values[1::2], strict=True))
            heads.append(YoloHead(current, [pairs[m] for m in mask], int(s["classes"])))
            outputs.append(current)
            depth.append(c)
            continue
        else:
            raise DarknetError(f"layer {index}: [{kind}] is not supported")
        outputs.append(current)
        depth.append(c)
    if taken != params.size:
        raise DarknetError(
            f"the weights file has {params.size - taken} values the cfg does not use"
        )
    graph = helper.make_graph(
        nodes,  # type: ignore[arg-type]
        "darknet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, channels, height, width])],
        [helper.make_tensor_value_info(h.output, TensorProto.FLOAT, None) for h in heads],
        initializer=inits,  # type: ignore[arg-type]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return DarknetGraph(model.SerializeToString(), "input", width, height, heads)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def decode_yolo(raw: np.ndarray, head: YoloHead, width: int, height: int) -> np.ndarray:
    """A yolo head's raw output (1, A*(5+C), H, W) as rows (H*W*A, 5+C): centre and size
    relative to the input, objectness, and class scores times objectness, zero at or
    below `CLASS_THRESHOLD` (cv2.dnn's layout: cell by cell, row-major, anchors within a
    cell)."""
    anchors = len(head.anchors)
    _, _, rows, cols = raw.shape
    t = raw.reshape(anchors, 5 + head.classes, rows, cols).transpose(2, 3, 0, 1)
    out = np.zeros(t.shape, np.float32)
    gy, gx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    out[..., 0] = (_sigmoid(t[..., 0]) + gx[:, :, None]) / cols
    out[..., 1] = (_sigmoid(t[..., 1]) + gy[:, :, None]) / rows
    sizes = np.array(head.anchors, np.float32)
    out[..., 2] = np.exp(t[..., 2]) * sizes[:, 0] / width
    out[..., 3] = np.exp(t[..., 3]) * sizes[:, 1] / height
    objectness = _sigmoid(t[..., 4])
    out[..., 4] = objectness
    # A class score is at most the objectness: only the few rows above the threshold
    # can have one (the sigmoid of every class of every row was a third of the decode).
    live = objectness > CLASS_THRESHOLD
    scores = _sigmoid(t[live][:, 5:]) * objectness[live][:, None]
    scores[scores <= CLASS_THRESHOLD] = 0.0
    out[live, 5:] = scores
    flat: np.ndarray = out.reshape(rows * cols * anchors, 5 + head.classes)
    return flat
