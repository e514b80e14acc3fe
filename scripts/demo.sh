#!/usr/bin/env bash
# The offline demo: set up, generate a sample library of synthetic shape pictures, index it with the project's
# own demo model (test:shapes), run a few searches, then serve the index with its web UI.
# Pass --no-serve to stop after the searches. For real photos, swap the model for real CLIP weights:
#   viewfinder index ~/Pictures --model ViT-B-32:openai
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
viewfinder=.venv/bin/viewfinder
library=${VIEWFINDER_DEMO_LIBRARY:-sample-library}
index=${VIEWFINDER_DEMO_INDEX:-demo-index}
model=test:shapes

echo "== The demo model is test:shapes: a tiny CLIP-style model trained on synthetic shapes, not on photos;"
echo "   it reads English, French, German and Spanish (docs/model-card-shapes.md)."
if [ ! -d "$library" ]; then
  "$viewfinder" sample "$library" --count 400
fi
# The demo model ships with the code, so an update may bring new weights, and an index built with the ones
# before is refused: `upgrade` embeds the demo's index again with the new ones.
if [ -f "$index/manifest.json" ] && ! .venv/bin/python - "$index" "$model" 2>/dev/null <<'PY'
import sys
from viewfinder.models.registry import resolve_model
from viewfinder.store.indexdir import IndexDir
IndexDir(sys.argv[1]).check_model(resolve_model(sys.argv[2]))
PY
then
  echo "== The demo model's weights changed since $index was built: embedding it again (viewfinder upgrade)"
  "$viewfinder" upgrade --model "$model" --index "$index"
fi
"$viewfinder" index "$library" --index "$index" --model "$model"
for query in "a red circle" "two green squares" "a blue star" "un cercle rouge"; do
  echo "== viewfinder search \"$query\""
  "$viewfinder" search "$query" --index "$index" -k 5
done
echo "== viewfinder search star --not yellow"
"$viewfinder" search star --not yellow --index "$index" -k 5

if [ "${1:-}" != "--no-serve" ]; then
  echo "== Serving $index on http://127.0.0.1:${PORT:-8000} (Ctrl-C to stop)"
  exec "$viewfinder" serve --index "$index" --port "${PORT:-8000}"
fi
