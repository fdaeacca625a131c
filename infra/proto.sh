#!/usr/bin/env bash
# Generate the Python code for the API contracts (`make proto`).
#
#   protos/rtcc/<service>/v1/<name>.proto
#     -> services/rtcc/<service>/v1/<name>_pb2.py, _pb2.pyi, _pb2_grpc.py, _pb2_grpc.pyi
#
# Generated files are git-ignored and never edited. The run is skipped when every
# output is newer than every .proto (and this script); pass --force to regenerate
# anyway. Environment: PYTHON (default .venv/bin/python, which must have
# grpcio-tools; mypy-protobuf's plugins are used from the same bin folder when
# present, otherwise protoc's own --pyi_out writes the message stubs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${PYTHON:-.venv/bin/python}"
bin_dir="$(dirname "$python")"
force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

mapfile -t protos < <(find protos/rtcc -name '*.proto' | LC_ALL=C sort)
if ((${#protos[@]} == 0)); then
  echo "proto: no .proto files under protos/rtcc" >&2
  exit 1
fi

# Every package folder gets an __init__.py (both rtcc/<service>/ and its v1/),
# so the generated modules import as rtcc.<service>.v1.<name>_pb2.
ensure_packages() {
  local proto dir
  for proto in "${protos[@]}"; do
    dir="services/$(dirname "${proto#protos/}")"
    while [[ "$dir" != "services" ]]; do
      mkdir -p "$dir"
      [[ -e "$dir/__init__.py" ]] || : >"$dir/__init__.py"
      dir="$(dirname "$dir")"
    done
  done
}

# The files protoc writes for one .proto.
outputs_of() {
  local base="services/${1#protos/}"
  base="${base%.proto}"
  printf '%s\n' "${base}_pb2.py" "${base}_pb2.pyi" "${base}_pb2_grpc.py"
}

up_to_date() {
  local newest="$0" input output
  for input in "${protos[@]}"; do
    [[ "$input" -nt "$newest" ]] && newest="$input"
  done
  for input in "${protos[@]}"; do
    while read -r output; do
      [[ -e "$output" && "$output" -nt "$newest" ]] || return 1
    done < <(outputs_of "$input")
  done
}

ensure_packages
if ((force == 0)) && up_to_date; then
  echo "proto: generated code is up to date (${#protos[@]} files)"
  exit 0
fi

include_dir="$("$python" -c 'import grpc_tools, pathlib; print(pathlib.Path(grpc_tools.__file__).parent / "_proto")')"

stub_args=(--pyi_out=services)
if [[ -x "$bin_dir/protoc-gen-mypy" ]]; then
  stub_args=(--plugin="protoc-gen-mypy=$bin_dir/protoc-gen-mypy" --mypy_out=services)
  if [[ -x "$bin_dir/protoc-gen-mypy_grpc" ]]; then
    stub_args+=(--plugin="protoc-gen-mypy_grpc=$bin_dir/protoc-gen-mypy_grpc" --mypy_grpc_out=services)
  fi
fi

# Remove what earlier runs generated, so a deleted or renamed .proto leaves no
# stale module behind. Only the git-ignored generated names are touched.
find services/rtcc -path '*/v1/*' -type f \
  \( -name '*_pb2.py' -o -name '*_pb2.pyi' -o -name '*_pb2_grpc.py' -o -name '*_pb2_grpc.pyi' \) \
  -delete

# protoc's own messages (warnings, errors) are shown; mypy-protobuf's
# "Writing mypy to …" progress lines are not.
if ! log="$("$python" -m grpc_tools.protoc \
  -I protos \
  -I "$include_dir" \
  --python_out=services \
  --grpc_python_out=services \
  "${stub_args[@]}" \
  "${protos[@]}" 2>&1)"; then
  printf '%s\n' "$log" >&2
  exit 1
fi
log="$(grep -v '^Writing mypy to ' <<<"$log" || true)"
[[ -z "$log" ]] || printf '%s\n' "$log" >&2

echo "proto: generated Python for ${#protos[@]} files into services/"
