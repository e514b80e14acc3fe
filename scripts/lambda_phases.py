"""Where a Lambda cold start's time goes, in a fresh process: prints, as JSON, when each phase began and ended (in
seconds from the script's start, which follows the interpreter's own start by a few tens of ms) and its CPU time.

    PYTHONPATH=SRC VIEWFINDER_INDEX=s3://… [VIEWFINDER_SNAPSHOT_CACHE=EMPTY_DIR …] python scripts/lambda_phases.py

scripts/bench_lambda.py runs it with the handler's environment, for each version of the code it compares (SRC
first on the path). The handler is called directly (Mangum, as awslambdaric would), without the emulator. The
phases are the functions the handler's cold start calls, wrapped after the handler's module is imported; a
function that a version lacks is left out of its report. Phases on other threads overlap the main thread's.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import functools  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

spans: dict[str, list[float]] = {}


def since_start() -> float:
    return round(time.perf_counter() - START, 3)


def timed(label: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        began = since_start()
        try:
            return function(*args, **kwargs)
        finally:
            spans.setdefault(label, [began, since_start()])  # the first call: the cold start's

    return wrapper


def wrap(module_name: str, attribute: str, label: str) -> None:
    """Times `module.attribute` (a function, or Class.method) where the code under test has it."""
    try:
        owner = importlib.import_module(module_name)
    except ImportError:
        return
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part, None)
    original = getattr(owner, name, None) if owner is not None else None
    if original is None:
        return
    if isinstance(owner, type) and isinstance(owner.__dict__.get(name), classmethod):
        setattr(owner, name, classmethod(timed(label, original.__func__)))
    else:
        setattr(owner, name, timed(label, original))


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from lambda_helpers import http_event

    cpu = time.process_time()
    import viewfinder.serve.lambda_handler as lambda_handler

    spans["import the handler's module"] = [0.0, since_start()]
    for module_name, attribute, label in [
        ("viewfinder.app.snapshot_live", "current", "read the pointer (with the S3 client's creation)"),
        ("viewfinder.app.snapshot_live", "download", "download and verify the snapshot"),
        ("viewfinder.app.snapshot_live", "_loaded", "load the model's text tower"),
        ("viewfinder.store.faiss_index", "VectorIndex.load", "open the FAISS index"),
        ("viewfinder.app.snapshot_live", "catalog_mismatch", "check the catalog against the index"),
        ("viewfinder.app.index", "Index.warm", "warm-up search"),
        ("viewfinder.app.index", "Index.calibration", "relevance calibration"),
    ]:
        wrap(module_name, attribute, label)
    began = since_start()
    handler = lambda_handler.build_handler()
    spans["build the handler (all of init)"] = [began, since_start()]
    began = since_start()
    event = http_event("POST", "/search", {"query": "a photo of a dog", "top_k": 50})
    answer = handler(event, None)
    spans["first /search"] = [began, since_start()]
    assert answer["statusCode"] == 200, answer
    report = {
        label: {"from": span[0], "to": span[1], "s": round(span[1] - span[0], 3)} for label, span in spans.items()
    }
    print(json.dumps({"phases": report, "total_s": since_start(), "cpu_s": round(time.process_time() - cpu, 3)}))


if __name__ == "__main__":
    main()
