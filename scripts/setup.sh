#!/usr/bin/env bash
# Sets up Viewfinder in ./.venv: Python packages pinned by constraints.txt, and the web UI when npm is there.
# Safe to run again: it reinstalls only when pyproject.toml, constraints.txt or the web UI sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.viewfinder-installed
wanted=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "viewfinder setup: installing Python packages into .venv (torch is large; this takes a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[all,dev]'
  echo "$wanted" > "$stamp"
fi

if [ -f web/package.json ]; then
  bash scripts/build_web.sh
fi
