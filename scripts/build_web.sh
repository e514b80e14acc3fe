#!/usr/bin/env bash
# Builds the web UI into src/viewfinder/webui/, where `viewfinder serve` finds it.
# Needs Node 20.19+ and npm; dependencies come from the registry at the versions in web/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund
npm run build
