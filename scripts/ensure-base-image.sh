#!/usr/bin/env bash
# Make sure the Dockerfile's base image exists and record which one build-image.sh must use.
#
# BASE_IMAGE (default python:3.11-slim) is used when it is present or can be pulled. Without a
# registry (this machine kind, CI) a Debian bookworm base is built once with mmdebstrap and imported
# as demoapp-base:bookworm. The choice is written to $DEMOAPP_WORK/base-image/chosen.
set -euo pipefail

log() { printf '[base-image] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${DEMOAPP_WORK:-$repo_root/.work}"
state_dir="$work/base-image"
chosen_file="$state_dir/chosen"
wanted="${BASE_IMAGE:-python:3.11-slim}"
fallback="${DEMOAPP_FALLBACK_BASE:-demoapp-base:bookworm}"

# What goes into the offline base: the interpreter, venv (for the image's build stage), CA
# certificates, and passwd so the Dockerfile can create its non-root user the same way on either base.
# The essential variant (no apt) and the merged-usr hook (no usrmerge, which drags in perl) keep it small.
# shellcheck disable=SC2054,SC2016  # commas are inside --include; "$1" is expanded by mmdebstrap's hook
mmdebstrap_args=(
  --variant=essential
  --include=python3,python3-venv,ca-certificates,passwd
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*'
  bookworm
)
spec="$(printf '%s\n' "${mmdebstrap_args[@]}" | sha256sum | cut -c1-16)"

mkdir -p "$state_dir"
# One run at a time per work folder (tests and make targets may call this concurrently).
exec 9>"$state_dir/lock"
flock 9

image_present() { docker image inspect "$1" >/dev/null 2>&1; }
fallback_spec() { docker image inspect -f '{{index .Config.Labels "demoapp.base.spec"}}' "$1" 2>/dev/null; }

choose() {
  printf '%s\n' "$wanted" >"$state_dir/wanted"
  printf '%s\n' "$1" >"$chosen_file.tmp"
  mv "$chosen_file.tmp" "$chosen_file"
  log "base image: $1"
}

# Fast path: the previous choice for the same BASE_IMAGE still exists (and, for the offline base, was
# built from this spec).
if [ -s "$chosen_file" ] && [ "$(cat "$state_dir/wanted" 2>/dev/null)" = "$wanted" ]; then
  previous="$(cat "$chosen_file")"
  if image_present "$previous" && { [ "$previous" != "$fallback" ] || [ "$(fallback_spec "$previous")" = "$spec" ]; }; then
    exit 0
  fi
fi

if image_present "$wanted"; then
  choose "$wanted"
  exit 0
fi
log "trying to pull $wanted"
if docker pull -q "$wanted" >/dev/null 2>&1; then
  choose "$wanted"
  exit 0
fi
log "cannot pull $wanted (no registry reachable): using a Debian bookworm base built with mmdebstrap"

if image_present "$fallback" && [ "$(fallback_spec "$fallback")" = "$spec" ]; then
  choose "$fallback"
  exit 0
fi

tarball="$state_dir/base.tar"
if [ ! -s "$tarball" ] || [ "$(cat "$state_dir/base.spec" 2>/dev/null)" != "$spec" ]; then
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    log "installing mmdebstrap (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq mmdebstrap >/dev/null
  fi
  log "building the base with mmdebstrap (about 30 s)"
  started=$SECONDS
  partial="$state_dir/base.partial.tar" # mmdebstrap picks the output format from the file extension
  if ! as_root mmdebstrap --quiet "${mmdebstrap_args[@]}" "$partial" >"$state_dir/mmdebstrap.log" 2>&1; then
    log "mmdebstrap failed; last lines of $state_dir/mmdebstrap.log:"
    tail -n 20 "$state_dir/mmdebstrap.log" >&2
    rm -f "$partial"
    exit 1
  fi
  mv "$partial" "$tarball"
  printf '%s\n' "$spec" >"$state_dir/base.spec"
  log "base tarball built in $((SECONDS - started)) s ($(du -h "$tarball" | cut -f1))"
fi

log "importing $tarball as $fallback"
docker import --change "LABEL demoapp.base.spec=$spec" "$tarball" "$fallback" >/dev/null
choose "$fallback"
