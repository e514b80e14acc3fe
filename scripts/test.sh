#!/usr/bin/env bash
# Sets up everything the test suite needs (Python packages, the web UI, Debian's Chromium) and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then
  echo "viewfinder tests: installing Debian's chromium for the browser tests" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check src tests worlds
.venv/bin/ruff format --check src tests worlds
.venv/bin/mypy
# One worker per core (pytest-xdist); tests/conftest.py keeps each module, and the tests of each costly shared
# server, on one worker. `-n 0` given after it runs the tests in turn, in this process.
.venv/bin/python -m pytest -n "$(nproc)" --dist loadgroup "$@"
