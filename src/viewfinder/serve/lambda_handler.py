"""AWS Lambda entry point: the same app as `viewfinder serve`, behind API Gateway (HTTP API) through Mangum.

Everything slow happens once, at init (the cold start): the ONNX text encoder loads (from the export baked
into the image, so torch is never imported) and the index opens: a snapshot published to S3
(VIEWFINDER_INDEX=s3://bucket/indexes/NAME, downloaded and verified into /tmp) or an index directory on a
mounted EFS path. Warm invocations only search. Settings come from the environment:

    VIEWFINDER_INDEX            s3://… snapshot location or a directory (required)
    VIEWFINDER_CACHE            where the ONNX export lives, its text tower mapped (the image sets it)
    VIEWFINDER_SNAPSHOT_CACHE   where snapshots are downloaded (the image sets /tmp/viewfinder-snapshots)
    VIEWFINDER_RUNTIME          the image sets auto (the int8 text tower); onnx and onnx-int8 also work
    VIEWFINDER_PRESIGN_TTL      seconds an /images/{id} redirect stays valid (default 900)
    VIEWFINDER_API_TOKEN        optional bearer token for every route but /healthz and the UI
    VIEWFINDER_ALLOWED_HOSTS    Host names to accept besides loopback, comma-separated (the template sets *)
    VIEWFINDER_POLL_SECONDS     how often an invocation checks for a newer snapshot first (default 60)

They are the settings of `viewfinder.settings` (docs/settings.md), read and checked there: a bad value stops
the cold start with one line.

A Lambda environment is frozen between invocations, so nothing can poll in the background: the first
invocation after VIEWFINDER_POLL_SECONDS checks the pointer (one small GET) and, when it moved, swaps to the
new snapshot (downloaded and verified, as `viewfinder serve` does) before it answers. Warm environments so
follow a publish or a rollback within that time, instead of serving the old snapshot until they are recycled.
With SnapStart (a zip package on Python 3.12 or later, deploy/aws-lambda/README.md) the init above runs once,
when a version is published, and every environment starts from its snapshot: the first invocation after a
restore checks the pointer whatever the time, and downloads only a snapshot published since.

The cold start overlaps what does not depend on the rest: the snapshot's download and its model's load begin
before the web framework is imported (snapshot_live.prefetch); BENCHMARKS.md has where the time goes.
"""

from __future__ import annotations

import gc
import os

# A cold start makes objects by the hundred thousand that live as long as the environment (modules, the app, the
# tokenizer's tables) and little garbage: collecting while it runs only scans them again and again (without it,
# 8 cold starts of 9 were faster here; BENCHMARKS.md). Under Lambda the collector is off from here, before the
# imports, until the handler is built (build_handler).
# numpy and FAISS each load an OpenBLAS that starts a thread per core at import, which then waits for work
# spinning: ~0.15 s of CPU of a cold start on two cores (BENCHMARKS.md), more with more. An environment answers
# one query at a time, whose products are too small to share out (the largest of an init, the calibration of a
# snapshot published without one, takes 0.02 s on one thread): one thread each is all it needs.
if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
    gc.disable()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from viewfinder import settings
from viewfinder.app import LiveIndex
from viewfinder.app.serving import one_thread_per_query
from viewfinder.app.snapshot_live import prefetch
from viewfinder.errors import ViewfinderError, needs_extra

log = logging.getLogger(__name__)


def build_handler() -> Any:
    """The Lambda handler over the index the environment names; loads it and the model now. The garbage
    collector is off meanwhile; what the init made is then frozen out of its later passes (gc.freeze), so no
    warm invocation's collection scans it either."""
    gc.disable()
    try:
        return _built()
    finally:
        gc.freeze()
        gc.enable()


def _built() -> Any:
    index = settings.from_environment("index")
    if not index:
        raise ViewfinderError("Set VIEWFINDER_INDEX to s3://bucket/indexes/NAME or an index directory on EFS.")
    # Every setting is read and checked before the slow part, so a bad value stops the cold start at once.
    runtime = settings.value("runtime")
    presign_ttl = settings.value("presign_ttl")
    poll_seconds = settings.value("poll_seconds")
    api_token = settings.value("api_token")
    allowed_hosts = settings.value("allowed_hosts")
    decode_memory = settings.value("decode_memory")
    # The snapshot's download and its model's load begin before the web framework is imported (a third of a
    # second of CPU, which they then overlap): hence the imports here rather than at the top.
    prefetch(index, device="cpu", runtime=runtime)
    with needs_extra("The Lambda handler"):
        from mangum import Mangum
    from viewfinder.serve.app import create_app
    from viewfinder.serve.guards import LOOPBACK_HOSTS

    one_thread_per_query()
    app = create_app(
        index,
        device="cpu",
        runtime=runtime,
        presign_ttl=presign_ttl,
        api_token=api_token,
        allowed_hosts=[*LOOPBACK_HOSTS, *allowed_hosts],
        decode_memory_mb=decode_memory,
    )
    return _following(Mangum(app, lifespan="off"), app.state.live, poll_seconds, index)


def _following(
    answer: Callable[[Any, Any], Any], live: LiveIndex, poll_seconds: float, index: str
) -> Callable[[Any, Any], Any]:
    """`answer` (no lifespan: nothing runs between invocations), checking for a newer index first when due, and
    at the first invocation after a SnapStart restore: the snapshot in memory may be days old by then."""
    checked = time.monotonic()

    def restored() -> None:
        nonlocal checked
        checked = -math.inf

    _after_restore(restored)

    def handler(event: Any, context: Any) -> Any:
        nonlocal checked
        if time.monotonic() - checked >= poll_seconds:
            checked = time.monotonic()
            try:
                live.refresh()
            except Exception as error:  # a bad snapshot is never swapped in: keep answering from this one
                log.warning("cannot follow %s: %s", index, error)
        return answer(event, context)

    return handler


def _after_restore(callback: Callable[[], None]) -> None:
    """Runs `callback` after each SnapStart restore, where the runtime has the hooks (Lambda's Python runtimes
    from 3.12 include snapshot_restore_py); elsewhere there is no restore to follow."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return
    register_after_restore(callback)


handler = build_handler() if os.environ.get("AWS_LAMBDA_RUNTIME_API") else None
