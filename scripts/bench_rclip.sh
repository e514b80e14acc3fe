#!/usr/bin/env bash
# Times Viewfinder against rclip indexing the same photos (mixed formats and sizes, median ~4 MP) with the same
# random-weight ViT-B-32-256, offline. Installs rclip in its own environment (it needs Python 3.12 or 3.13); CI
# does not run this script. The photos are made from Debian's wallpaper packages, installed first with
#   apt-get install -y lomiri-wallpapers-20.04 mate-backgrounds gnome-backgrounds plasma-workspace-wallpapers ukui-wallpapers
#   bash scripts/bench_rclip.sh [WORK_DIR]      (extra options go to scripts/bench_rclip.py via BENCH_ARGS)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-${VIEWFINDER_CACHE:-$HOME/.cache/viewfinder}/bench-rclip}
RCLIP_VERSION=${RCLIP_VERSION:-4.0.8}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

find_python() {
  for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 \
                   "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert (3, 12) <= sys.version_info < (3, 14)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

mkdir -p "$WORK"
installed=$("$WORK/rclip-venv/bin/python" -c 'from importlib.metadata import version; print(version("rclip"))' 2>/dev/null || true)
if [ "$installed" != "$RCLIP_VERSION" ]; then
  rm -rf "$WORK/rclip-venv"
  RCLIP_PY=$(find_python) || { echo "bench_rclip: rclip needs Python 3.12 or 3.13; none found on PATH or in ~/.pyenv" >&2; exit 2; }
  "$RCLIP_PY" -m venv "$WORK/rclip-venv"
  "$WORK/rclip-venv/bin/pip" install -q "rclip==$RCLIP_VERSION"
fi
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" scripts/bench_rclip.py --rclip "$WORK/rclip-venv/bin/rclip" --work "$WORK" ${BENCH_ARGS:-}
