#!/usr/bin/env bash
# Vendor the operator console's browser libraries (Leaflet, Leaflet.markercluster)
# from npm into services/rtcc/playback/static/vendor/ (git-ignored), at build time:
# the console loads nothing from a CDN at run time.
#
# `npm ci` runs in a cache outside the repository ($RTCC_TOOLS/console-npm), from the
# lockfile in services/rtcc/playback/web/, and only when the lockfile changed: rerunning
# is a no-op. Called by `make run` and `make test` (the `console` target).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/services/rtcc/playback/web"
OUT="$ROOT/services/rtcc/playback/static/vendor"
CACHE="${RTCC_TOOLS:-$HOME/.cache/rtcc}/console-npm"
STAMP="$OUT/.lock-sha256"

want="$(sha256sum "$WEB/package-lock.json" "$0" | sha256sum | cut -c1-64)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then  # Debian's npm, unless a Node.js with its own npm is there
  sudo=""; [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null \
    || { echo "console: npm is missing and could not be installed" >&2; exit 1; }
fi

mkdir -p "$CACHE"
cp "$WEB/package.json" "$WEB/package-lock.json" "$CACHE/"
(cd "$CACHE" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error \
   --cache "$CACHE/.npm" >/dev/null)

tmp="$(mktemp -d "$ROOT/services/rtcc/playback/static/.vendor.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
L="$CACHE/node_modules/leaflet/dist"
M="$CACHE/node_modules/leaflet.markercluster/dist"
cp "$L/leaflet.js" "$L/leaflet.css" "$tmp/"
mkdir -p "$tmp/images" && cp "$L"/images/*.png "$tmp/images/"
cp "$M/leaflet.markercluster.js" "$M/MarkerCluster.css" "$M/MarkerCluster.Default.css" "$tmp/"
cp "$CACHE/node_modules/leaflet/LICENSE" "$tmp/LICENSE.leaflet"
cp "$CACHE/node_modules/leaflet.markercluster/MIT-LICENCE.txt" "$tmp/LICENSE.markercluster" 2>/dev/null \
  || cp "$CACHE"/node_modules/leaflet.markercluster/*LICEN* "$tmp/LICENSE.markercluster"
echo "$want" > "$tmp/.lock-sha256"
chmod 755 "$tmp"
rm -rf "$OUT"
mv "$tmp" "$OUT"
trap - EXIT
echo "console: vendored leaflet and leaflet.markercluster into ${OUT#"$ROOT"/}"
