#!/usr/bin/env bash
# Builds Viewfinder's Lambda function as a zip package for the python3.12 runtime (which SnapStart supports;
# container images get no SnapStart), beside the container recipe (Dockerfile). From the repository root:
#
#   PYTHON=python3.12 deploy/aws-lambda/build_zip.sh [OUT]        (OUT defaults to build/lambda-zip)
#
# It writes OUT/function.zip (the code and every library: the handler is viewfinder.serve.lambda_handler.handler)
# and, when deploy/aws-lambda/model-cache holds the exported model, OUT/model-layer.zip (a layer whose files land
# in /opt/model-cache: set VIEWFINDER_CACHE=/opt/model-cache). Both are unzipped sizes checked against Lambda's
# limit for a function with its layers, 250 MB (262,144,000 bytes) together; the script prints each size, and
# says by how much the sum is over when it is. Wheels are those of manylinux x86_64 for CPython 3.12, whatever
# the machine building them runs, and the bytecode is compiled now: /var/task is read-only, so Python could not
# cache it there and would compile every module again at each cold start.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT/build/lambda-zip}")"
PYTHON="${PYTHON:-python3.12}"
LIMIT=262144000
# Left out, each for a reason (the sizes are measured by this script's last run, BENCHMARKS.md):
# - used only by the exporter and by onnxruntime's offline tools and int8 quantiser, never by the function (the
#   Dockerfile removes the same): onnx, onnxscript, onnx_ir, ml_dtypes, sympy, mpmath, onnxruntime's python tools;
# - in the Lambda Python runtime already: boto3 and its dependencies;
# - never imported by the search API: huggingface_hub, hf_xet and tokenizers (multilingual and Hugging Face
#   published models only), uvicorn and httptools (`viewfinder serve`'s server), watchdog (folder
#   watching), and the test models that ship in the wheel;
# - pillow_heif (27 MB), which decodes HEIC and AVIF: without it the package fits the limit, and an uploaded
#   query image in those formats cannot be read (JPEG, PNG, WebP and the others can).
# (globs, expanded inside the package folder)
TRIM="onnx onnx-*.dist-info onnxscript onnxscript-*.dist-info onnx_ir onnx_ir-*.dist-info ml_dtypes
      ml_dtypes-*.dist-info sympy sympy-*.dist-info mpmath mpmath-*.dist-info onnxruntime/transformers
      onnxruntime/quantization onnxruntime/tools onnxruntime/datasets
      boto3 boto3-*.dist-info botocore botocore-*.dist-info s3transfer s3transfer-*.dist-info jmespath
      jmespath-*.dist-info dateutil python_dateutil-*.dist-info six.py six-*.dist-info urllib3 urllib3-*.dist-info
      huggingface_hub huggingface_hub-*.dist-info hf_xet hf_xet-*.dist-info tokenizers tokenizers-*.dist-info
      uvicorn uvicorn-*.dist-info httptools httptools-*.dist-info watchdog
      watchdog-*.dist-info viewfinder/models/exports viewfinder/models/weights
      pillow_heif pillow_heif-*.dist-info pillow_heif.libs _pillow_heif.*.so"

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 12), "PYTHON must be CPython 3.12: " + sys.version'
rm -rf "$OUT" && mkdir -p "$OUT/wheel" "$OUT/function"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$OUT/wheel" "$ROOT"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$OUT/function" \
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --implementation cp --python-version 3.12 \
    --only-binary=:all: -c "$ROOT/constraints.txt" "$(ls "$OUT"/wheel/viewfinder-*.whl)[lambda]"
(cd "$OUT/function" && rm -rf $TRIM bin && find . -type d \( -name tests -o -name __pycache__ \) -prune \
    -exec rm -rf {} +)
test ! -e "$OUT/function/torch" || { echo "torch must not be in the package" >&2; exit 1; }
"$PYTHON" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$OUT/function" >/dev/null
(cd "$OUT/function" && zip -q -r -X ../function.zip .)

size() { du -sb "$1" | cut -f1; }
total=$(size "$OUT/function")
echo "function.zip: $(stat -c %s "$OUT/function.zip") bytes zipped, $total unzipped"
if [ -d "$ROOT/deploy/aws-lambda/model-cache" ]; then
    mkdir -p "$OUT/layer" && cp -r "$ROOT/deploy/aws-lambda/model-cache" "$OUT/layer/model-cache"
    (cd "$OUT/layer" && zip -q -r -X ../model-layer.zip .)
    layer=$(size "$OUT/layer")
    total=$((total + layer))
    echo "model-layer.zip: $(stat -c %s "$OUT/model-layer.zip") bytes zipped, $layer unzipped"
fi
if [ "$total" -gt "$LIMIT" ]; then
    echo "over Lambda's 250 MB unzipped limit by $(((total - LIMIT) / 1000000)) MB ($total bytes in all)" >&2
    exit 3
fi
echo "within Lambda's 250 MB unzipped limit: $total bytes in all"
