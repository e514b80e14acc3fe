#!/usr/bin/env bash
# Times Viewfinder against rclip indexing the same ~4 MP photos with the same random-weight ViT-B-32-256, offline.
# Installs rclip in its own environment (it needs Python 3.12 or 3.13); CI does not run this script.
#   bash scripts/bench_rclip.sh [WORK_DIR]      (extra options go to scripts/bench_rclip.py via BENCH_ARGS)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-${VIEWFINDER_CACHE:-$HOME/.cache/viewfinder}/bench-rclip}
RCLIP_VERSION=${RCLIP_VERSION:-3.3.0}   # the newest rclip the package index here offers
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

find_python() {
  for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 \
                   "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

mkdir -p "$WORK"
if [ ! -x "$WORK/rclip-venv/bin/rclip" ]; then
  RCLIP_PY=$(find_python) || { echo "bench_rclip: rclip needs Python 3.12 or 3.13; none found on PATH or in ~/.pyenv" >&2; exit 2; }
  "$RCLIP_PY" -m venv "$WORK/rclip-venv"
  "$WORK/rclip-venv/bin/pip" install -q "rclip==$RCLIP_VERSION"
fi
WHEEL=$(ls "$WORK"/scikit_image-*.whl 2>/dev/null | head -1 || true)
if [ -z "$WHEEL" ]; then
  "$PY" -m pip download -q --no-deps --only-binary=:all: scikit-image -d "$WORK" \
    && WHEEL=$(ls "$WORK"/scikit_image-*.whl | head -1) \
    || echo "bench_rclip: no scikit-image wheel; generated photos only" >&2
fi
PYTHONPATH="$PWD/src" exec "$PY" scripts/bench_rclip.py --rclip "$WORK/rclip-venv/bin/rclip" --work "$WORK" \
  ${WHEEL:+--skimage-wheel "$WHEEL"} ${BENCH_ARGS:-}
