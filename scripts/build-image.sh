#!/usr/bin/env bash
# Build the demo service image: scripts/build-image.sh [IMAGE]   (make image; default demoapp:dev)
#
# 1. A wheelhouse of the service's runtime dependencies is built on the host ($DEMOAPP_WORK/wheels),
#    because containers cannot reach PyPI here; the image installs with pip --no-index.
# 2. A small build context is staged ($DEMOAPP_WORK/image-context) with exactly what the Dockerfile copies.
# 3. The build is skipped when the image's demoapp.content-hash label already matches the context and
#    the base image, so a warm `make demo` costs well under a second here.
set -euo pipefail

log() { printf '[image] %s\n' "$*" >&2; }
fail() { log "error: $*"; exit 1; }

image="${1:-demoapp:dev}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${DEMOAPP_WORK:-$repo_root/.work}"
python="${DEMOAPP_PYTHON:-$repo_root/.venv/bin/python}"
wheels="$work/wheels"
context="$work/image-context"
build_log="$work/image-build.log"

[ -x "$python" ] || fail "no Python at $python: run 'make venv' first"
[ -s "$work/base-image/chosen" ] || fail "no base image chosen yet: run 'make base-image' first"
base="$(cat "$work/base-image/chosen")"
base_id="$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null)" \
  || fail "base image $base is gone: run 'make base-image' again"
mkdir -p "$work"
# One build at a time per work folder: they share the wheelhouse and the staged context.
exec 9>"$work/image-build.lock"
flock 9

# Runtime requirements, plus the build backend pip needs to install the project itself offline.
requirements="$("$python" - "$repo_root/pyproject.toml" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    pyproject = tomllib.load(f)
print("\n".join([*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]))
PY
)"
if [ "$(cat "$wheels/requirements.txt" 2>/dev/null)" != "$requirements" ]; then
  log "building the wheelhouse (pip wheel of the runtime dependencies)"
  started=$SECONDS
  rm -rf "$wheels.partial"
  mkdir -p "$wheels.partial"
  printf '%s\n' "$requirements" >"$wheels.partial/requirements.txt"
  if ! "$python" -m pip wheel -q --disable-pip-version-check -w "$wheels.partial" \
    -r "$wheels.partial/requirements.txt" >"$work/wheels.log" 2>&1; then
    tail -n 25 "$work/wheels.log" >&2
    fail "pip wheel failed (log: $work/wheels.log)"
  fi
  rm -rf "$wheels"
  mv "$wheels.partial" "$wheels"
  log "wheelhouse ready in $((SECONDS - started)) s: $(find "$wheels" -name '*.whl' | wc -l) wheels, $(du -sh "$wheels" | cut -f1)"
fi

rm -rf "$context"
mkdir -p "$context"
cp "$repo_root/Dockerfile" "$repo_root/.dockerignore" "$repo_root/pyproject.toml" "$repo_root/README.md" "$context/"
tar -C "$repo_root" --exclude=__pycache__ --exclude='*.pyc' -cf - demo_app | tar -C "$context" -xf -
cp -al "$wheels" "$context/wheels" 2>/dev/null || cp -a "$wheels" "$context/wheels"

content_hash="$(
  cd "$context"
  { find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; echo "base $base_id"; } | sha256sum | cut -c1-32
)"
current_hash="$(docker image inspect -f '{{index .Config.Labels "demoapp.content-hash"}}' "$image" 2>/dev/null || true)"

report_size() {
  local bytes
  bytes="$(docker image inspect -f '{{.Size}}' "$image")"
  log "$image: $((bytes / 1000000)) MB (base $base)"
}

if [ "$current_hash" = "$content_hash" ]; then
  log "$image is up to date"
  report_size
  exit 0
fi

log "building $image on $base (full log: $build_log)"
started=$SECONDS
# The classic builder, explicitly: the engine installed by ensure-docker.sh has no buildx.
# Progress shows the Dockerfile steps; the full output goes to the log.
set +o pipefail
DOCKER_BUILDKIT=0 docker build \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "CONTENT_HASH=$content_hash" \
  -t "$image" "$context" 2>&1 | tee "$build_log" | grep --line-buffered -E '^Step [0-9]+/[0-9]+ : (FROM|RUN|COPY)' \
  | sed -u 's/^/[image]   /' >&2
build_status=${PIPESTATUS[0]}
set -o pipefail
if [ "$build_status" -ne 0 ]; then
  log "docker build failed; last lines of $build_log:"
  tail -n 25 "$build_log" >&2
  exit 1
fi
log "built $image in $((SECONDS - started)) s"
# Earlier builds of the image, now untagged; the untagged build stages stay as the layer cache.
docker image prune -f --filter "label=demoapp.content-hash" >/dev/null
report_size
