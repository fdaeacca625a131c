#!/usr/bin/env bash
# Install natural test footage for the analytics quality harness and the demo cameras.
#
#   vtest.avi   768x576, 10 fps, 795 frames (79.5 s) of people walking on a campus
#               road, from OpenCV's samples/data as Debian ships it in `opencv-doc`
#               (Debian main; debian/copyright: `Files: *`, Apache-2.0 AND BSD-3-Clause).
#
# The .deb is fetched with apt (a package registry, nothing else), only vtest.avi and
# the copyright file are kept under $RTCC_FOOTAGE_DIR (default
# ${RTCC_TOOLS:-~/.cache/rtcc}/footage). Idempotent: a file with the expected SHA-256
# is left alone. Nothing is downloaded at run time: rtcc.sim.footage only reads here.
set -euo pipefail

dir="${RTCC_FOOTAGE_DIR:-${RTCC_TOOLS:-${HOME:-/root}/.cache/rtcc}/footage}"
want="45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
member="./usr/share/doc/opencv-doc/examples/data/vtest.avi"

if [[ -f "$dir/vtest.avi" ]] && [[ "$(sha256sum "$dir/vtest.avi" | cut -d' ' -f1)" == "$want" ]]; then
  exit 0
fi
# An installed opencv-doc (without docs excluded by dpkg) already has it.
if [[ -f "/${member#./}" ]] && [[ "$(sha256sum "/${member#./}" | cut -d' ' -f1)" == "$want" ]]; then
  mkdir -p "$dir"
  cp "/${member#./}" "$dir/vtest.avi.tmp" && mv "$dir/vtest.avi.tmp" "$dir/vtest.avi"
  cp /usr/share/doc/opencv-doc/copyright "$dir/vtest.COPYRIGHT" 2>/dev/null || true
  exit 0
fi
echo "install-footage: opencv-doc (Debian) -> $dir/vtest.avi"
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 777 "$work"  # apt's _apt user writes the download here
if ! (cd "$work" && apt-get download -q opencv-doc >/dev/null 2>&1); then
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update -q >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -q >/dev/null
  fi
  (cd "$work" && apt-get download -q opencv-doc >/dev/null)
fi
deb="$(ls "$work"/opencv-doc_*.deb)"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "$member" ./usr/share/doc/opencv-doc/copyright
got="$(sha256sum "$work/$member" | cut -d' ' -f1)"
if [[ "$got" != "$want" ]]; then
  echo "install-footage: vtest.avi from opencv-doc has SHA-256 $got, expected $want" >&2
  echo "  (a new opencv-doc version?): update the checksum in infra/install-footage.sh" >&2
  echo "  and re-check bench/data/vtest-truth.txt still lines up with its frames" >&2
  exit 1
fi
cp "$work/usr/share/doc/opencv-doc/copyright" "$dir/vtest.COPYRIGHT"
mv "$work/$member" "$dir/vtest.avi.tmp"
mv "$dir/vtest.avi.tmp" "$dir/vtest.avi"
