"""The Lambda handler's init (its module's import, under Lambda) runs without the garbage collector, and leaves it
on, with what the init made frozen out of its passes, whether the init succeeds or stops on a bad setting (in a
process of its own: freezing is for the whole process); and numpy and FAISS load with one OpenBLAS thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cli_helpers import SRC, write_colour_images

from viewfinder.pipeline.indexer import run_index

INIT = """
import gc, json, os, sys
# The collections from the first line of the handler's module on (its first line imports gc): not its package's,
# nor one while Python compiles the module where no bytecode is cached, before any of its lines can run.
collected = []
running = lambda: "gc" in getattr(sys.modules.get("viewfinder.serve.lambda_handler"), "__dict__", {})
gc.callbacks.append(lambda phase, info: phase == "start" and running() and collected.append(1))
try:
    import viewfinder.serve.lambda_handler as module  # as Lambda imports it: the handler is built at import
    built = module.handler is not None
except Exception as error:
    built = type(error).__name__
print(json.dumps({"built": built, "collected": collected, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "openblas": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def init(env: dict[str, str]) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("VIEWFINDER_") and key != "OPENBLAS_NUM_THREADS"
    }
    environment.update(env, PYTHONPATH=str(SRC), AWS_LAMBDA_RUNTIME_API="127.0.0.1:9")  # never called: no invocation
    done = subprocess.run([sys.executable, "-c", INIT], env=environment, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_init_collects_nothing_then_leaves_the_collector_on_with_its_objects_frozen(tmp_path, model_cache):
    index = tmp_path / "index"
    write_colour_images(tmp_path / "photos", 2)
    run_index(index, [str(tmp_path / "photos")], model="test:tiny")
    built = init({"VIEWFINDER_INDEX": str(index), "VIEWFINDER_CACHE": str(model_cache)})
    assert built["built"] is True and built["collected"] == []
    assert built["enabled"] and built["frozen"] > 10_000
    refused = init({"VIEWFINDER_INDEX": str(index), "VIEWFINDER_PRESIGN_TTL": "0"})
    assert refused["built"] == "SettingError" and refused["enabled"]


def test_under_lambda_numpy_and_faiss_get_one_openblas_thread_unless_the_environment_sets_a_number(tmp_path):
    bad = {"VIEWFINDER_INDEX": str(tmp_path), "VIEWFINDER_PRESIGN_TTL": "0"}  # stops the init after the imports
    assert init(bad)["openblas"] == "1"
    assert init({**bad, "OPENBLAS_NUM_THREADS": "4"})["openblas"] == "4"
