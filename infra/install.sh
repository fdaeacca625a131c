#!/usr/bin/env bash
# Install what OpenRTCC needs on a Debian 12 machine; safe to run again (a second run
# that finds everything in place does nothing and takes well under a second).
#
#   infra/install.sh            everything: runtime packages, real backends, test browser,
#                               the Go-built tools (minio, helm, buf) and the sign-in
#                               tests' OIDC provider (npm, into $RTCC_TOOLS/oidc)
#   infra/install.sh --runtime  only what `rtcc serve` needs with embedded backends
#
# Debian packages need root: as another user the apt steps go through sudo. The Go
# tools are built for the current user into $RTCC_TOOLS/bin (default ~/.cache/rtcc/bin,
# i.e. /root/.cache/rtcc/bin as root), which is where infra/servers.py looks for them.
set -euo pipefail

MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
HELM_VERSION="v3.22.0"
BUF_VERSION="v1.75.0"
# The OpenID Connect provider of the sign-in tests (infra/oidc/), from npm.
OIDC_PROVIDER_VERSION="$(sed -n 's/.*"oidc-provider": "\(.*\)".*/\1/p' "$(dirname "$0")/oidc/package.json")"

RUNTIME_PACKAGES=(
  ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp
  gstreamer1.0-x gir1.2-gst-rtsp-server-1.0 python3-gi fonts-dejavu-core
)
# The real backends and the browser for end-to-end tests.
DEVELOPMENT_PACKAGES=(nats-server postgresql chromium chromium-driver)

RTCC_TOOLS="${RTCC_TOOLS:-${HOME:-/root}/.cache/rtcc}"
BIN="$RTCC_TOOLS/bin"

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

runtime_only=false
for arg in "$@"; do
  case "$arg" in
    --runtime) runtime_only=true ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (see --help)" ;;
  esac
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "installing Debian packages needs root, and sudo is not available: run this as root"
  fi
}

missing_packages() {
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
      printf '%s\n' "$pkg"
    fi
  done
}

install_packages() {
  command -v dpkg-query >/dev/null 2>&1 || die "this installer expects Debian 12 (dpkg and apt)"
  local missing
  mapfile -t missing < <(missing_packages "$@")
  if [ "${#missing[@]}" -eq 0 ]; then
    say "Debian packages: all ${#@} present"
    return
  fi
  say "Debian packages: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
}

# go_tool NAME PACKAGE@VERSION MODULE: build NAME unless the binary already in $BIN was
# built from MODULE at VERSION (`go version -m` records it), so a changed pin rebuilds.
go_tool() {
  local name="$1" target="$2" module="$3"
  local version="${target##*@}" have=""
  if [ -x "$BIN/$name" ] && command -v go >/dev/null 2>&1; then
    have="$(go version -m "$BIN/$name" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m {print $3}')"
  elif [ -x "$BIN/$name" ]; then
    have="$version"  # no Go to ask; trust what is there
  fi
  if [ "$have" = "$version" ]; then
    say "$name $version: present in $BIN"
    return
  fi
  command -v go >/dev/null 2>&1 || die "building $name needs Go >= 1.24 (https://go.dev/dl); put it on PATH"
  say "$name $version: building with $(go version | awk '{print $3}') (several minutes the first time)"
  mkdir -p "$BIN"
  GOBIN="$BIN" GOFLAGS=-trimpath go install "$target"
}

if [ -x /usr/local/go/bin/go ] && ! command -v go >/dev/null 2>&1; then
  PATH="$PATH:/usr/local/go/bin"
fi

if $runtime_only; then
  install_packages "${RUNTIME_PACKAGES[@]}"
  exit 0
fi

install_packages "${RUNTIME_PACKAGES[@]}" "${DEVELOPMENT_PACKAGES[@]}"
go_tool minio "github.com/minio/minio@$MINIO_VERSION" github.com/minio/minio
go_tool helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" helm.sh/helm/v3
go_tool buf "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION" github.com/bufbuild/buf
# mailpit: the SMTP server (with an HTTP API to read messages) alerting's e-mail tests use.
go_tool mailpit "github.com/axllent/mailpit@v1.33.1" github.com/axllent/mailpit
# oidc_provider: install infra/oidc/package.json into $RTCC_TOOLS/oidc (outside the repo)
# unless that exact version of oidc-provider is already there.
oidc_provider() {
  local dest="$RTCC_TOOLS/oidc" have=""
  if [ -f "$dest/node_modules/oidc-provider/package.json" ]; then
    have="$(sed -n 's/^ *"version": "\(.*\)".*/\1/p' "$dest/node_modules/oidc-provider/package.json" | head -1)"
  fi
  if [ "$have" = "$OIDC_PROVIDER_VERSION" ]; then
    say "oidc-provider $OIDC_PROVIDER_VERSION: present in $dest"
    return
  fi
  command -v npm >/dev/null 2>&1 || die "the sign-in tests' OIDC provider needs Node.js >= 20 and npm (apt-get install nodejs npm)"
  say "oidc-provider $OIDC_PROVIDER_VERSION: installing into $dest"
  mkdir -p "$dest"
  cp "$(dirname "$0")/oidc/package.json" "$dest/package.json"
  npm install --prefix "$dest" --no-audit --no-fund --silent
}

oidc_provider
say "done; tools in $BIN"
