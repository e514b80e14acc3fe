"""`viewfinder doctor`: what this installation has, in plain lines or as JSON."""

from __future__ import annotations

import argparse
import json

from viewfinder.cli.options import EXIT_OK
from viewfinder.errors import CORE


def add_commands(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor", help="say what is installed: extras, runtimes, GPU, model cache, S3 settings, default index"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(run=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from viewfinder.app.doctor import diagnose

    report = diagnose()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
        return EXIT_OK
    print(f"Python {report.python}, Viewfinder {report.viewfinder}")
    print("extras:")
    width = max(len(extra.name) for extra in report.extras)
    for extra in report.extras:
        if extra.installed:
            state = "installed: " + ", ".join(f"{module} {version}" for module, version in extra.modules.items())
        else:
            missing = ", ".join(module for module, version in extra.modules.items() if version is None)
            fix = (
                "pip install --force-reinstall viewfinder"
                if extra.name == CORE
                else f"pip install 'viewfinder[{extra.name}]'"
            )
            state = f"not installed ({missing} missing): {fix}"
        print(f"  {extra.name:<{width}}  {state}")
    runtimes = report.runtimes
    torch = f"torch {runtimes.torch}" if runtimes.torch else "torch not installed"
    onnx = f"onnxruntime {runtimes.onnxruntime}" if runtimes.onnxruntime else "onnxruntime not installed"
    if runtimes.onnx_providers:
        onnx += f" ({', '.join(runtimes.onnx_providers)})"
    print(f"runtimes: {torch}; {onnx}")
    print(
        f"GPU: {runtimes.gpu} (CUDA available)"
        if runtimes.cuda
        else "GPU: none that torch can use (CUDA not available)"
    )
    models = report.models
    print(f"model cache: {models.cache} (ONNX exports in {models.onnx_exports})")
    print(f"Hugging Face cache: {models.hub_cache or 'none (huggingface_hub is not installed)'}")
    for model in models.test_models:
        # An export runs on ONNX Runtime alone; torch runs any model, and makes its export.
        ready = f"ready on {' and '.join(model.runs_on)}" if model.runs_on else "not ready (needs the [torch] extra)"
        export = "ONNX export shipped or cached" if model.onnx_export else "no ONNX export"
        print(f"test model {model.name}: {ready}; {export}")
    s3 = report.s3
    print(f"S3 endpoint: {s3.endpoint or 'AWS (AWS_ENDPOINT_URL is not set)'}")
    credentials = f"found ({s3.credentials})" if s3.credentials else s3.problem or "none found"
    print(f"S3 credentials: {credentials}")
    there = "exists" if report.index.exists else "no index there yet"
    print(f"default index: {report.index.path} ({there})")
    return EXIT_OK
