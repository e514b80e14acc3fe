#!/usr/bin/env bash
# Builds what users install: a wheel and an sdist in dist/. Both carry the web page and the test models' ONNX
# exports, made here (with npm and torch) so that an installed Viewfinder needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python scripts/bundle_test_models.py
rm -rf dist
.venv/bin/python -m build --no-isolation --outdir dist .
ls -l dist
