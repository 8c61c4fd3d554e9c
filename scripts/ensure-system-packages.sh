#!/usr/bin/env bash
# Debian packages the tests and benchmarks use: Chromium (Playwright page tests), wrk (make bench),
# PostgreSQL (the pg backend test). Installs only what is missing, so a set-up machine pays nothing.
set -euo pipefail

log() { printf '[system-packages] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
log "installing ${missing[*]} with apt-get"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
