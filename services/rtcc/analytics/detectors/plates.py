"""Licence plates: RapidOCR (PP-OCRv4 text detection + recognition, ONNX) on vehicle crops.

No plate-detector model ships in a package, so plates are found as text inside a
vehicle's box: RapidOCR's text detector locates candidate strings in the crop and its
recogniser reads them with per-character confidence. Output is filtered to [A-Z0-9]
(the recogniser emits CJK glyphs on noise) and to plausible plate lengths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from rtcc.analytics.detection import (
    READY,
    Box,
    Detection,
    DetectorHealth,
    Frame,
    ObjectClass,
    clip_box,
    unavailable,
)
from rtcc.analytics.detectors.models import RAPIDOCR_HINT, ModelMissing, model_file

_PLATE_CHARS = re.compile(r"[A-Z0-9]")
MIN_PLATE_LENGTH = 3
MAX_PLATE_LENGTH = 10


def plate_characters(text: str, confidences: Sequence[float]) -> list[tuple[str, float]]:
    """Keep the plate characters of an OCR string, with their confidence, in order.

    When the recogniser gave no per-character confidence the string's own is used.
    """
    aligned = list(confidences) if len(confidences) == len(text) else [None] * len(text)
    kept: list[tuple[str, float]] = []
    for char, confidence in zip(text.upper(), aligned, strict=True):
        if _PLATE_CHARS.fullmatch(char):
            kept.append((char, 1.0 if confidence is None else float(confidence)))
    return kept


class PlateDetector:
    """Reads plates inside given regions (vehicle boxes) or, without regions, the frame."""

    name = "plates-rapidocr"

    def __init__(
        self, *, min_confidence: float = 0.6, det_side: int = 480, use_cuda: bool = False
    ) -> None:
        self._min_confidence = min_confidence
        self._use_cuda = use_cuda  # ONNX Runtime's CUDA provider (rtcc.analytics.accelerator)
        self._health = READY
        self._engine: Any = None
        try:
            self._engine = self._load(det_side)
        except (ModelMissing, ImportError, OSError, RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[-1][:200] if str(exc) else type(exc).__name__
            self._health = unavailable(f"RapidOCR could not be loaded: {reason}")

    def _load(self, det_side: int) -> Any:
        for name in ("det", "rec"):
            model_file(
                "rapidocr_onnxruntime",
                f"models/ch_PP-OCRv4_{name}_infer.onnx",
                RAPIDOCR_HINT,
                min_bytes=1 << 20,
            )
        # onnxruntime writes under $HOME/.cache; a read-only home must not break loading.
        os.environ.setdefault("HOME", "/tmp")
        from rapidocr_onnxruntime import RapidOCR

        return RapidOCR(
            intra_op_num_threads=1,
            inter_op_num_threads=1,
            det_limit_type="max",
            det_limit_side_len=det_side,
            use_cls=False,
            print_verbose=False,
            det_use_cuda=self._use_cuda,
            rec_use_cuda=self._use_cuda,
        )

    def status(self) -> DetectorHealth:
        return self._health

    def detect(self, frame: Frame) -> list[Detection]:
        height, width = frame.shape[:2]
        return self.detect_in(frame, [(0.0, 0.0, float(width), float(height))])

    def detect_in(self, frame: Frame, regions: Sequence[Box]) -> list[Detection]:
        """Plates inside each region, boxes in frame pixels; at most one plate per region."""
        if self._engine is None:
            return []
        height, width = frame.shape[:2]
        found: list[Detection] = []
        for region in regions:
            x1, y1, x2, y2 = (int(v) for v in clip_box(region, width, height))
            if x2 - x1 < 24 or y2 - y1 < 12:
                continue
            best = self._read(frame[y1:y2, x1:x2], (x1, y1))
            if best is not None:
                found.append(best)
        return found

    def _read(self, crop: Frame, origin: tuple[int, int]) -> Detection | None:
        result, _ = self._engine(crop, use_cls=False, return_word_box=True)
        best: Detection | None = None
        for item in result or []:
            quad, text, score = item[0], str(item[1]), float(item[2])
            char_confidences = item[5] if len(item) > 5 else []
            chars = plate_characters(text, char_confidences)
            if not MIN_PLATE_LENGTH <= len(chars) <= MAX_PLATE_LENGTH:
                continue
            confidence = min(score, *(c for _, c in chars))
            if confidence < self._min_confidence:
                continue
            xs = [p[0] + origin[0] for p in quad]
            ys = [p[1] + origin[1] for p in quad]
            plate = "".join(c for c, _ in chars)
            attributes = {"plate": plate, "characters": chars}
            candidate = Detection(
                ObjectClass.LICENSE_PLATE,
                score,
                (min(xs), min(ys), max(xs), max(ys)),
                attributes,
            )
            if best is None or candidate.confidence > best.confidence:
                best = candidate
        return best
