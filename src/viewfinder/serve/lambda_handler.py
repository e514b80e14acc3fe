"""AWS Lambda entry point: the same app as `viewfinder serve`, behind API Gateway (HTTP API) through Mangum.

Everything slow happens once, at init (the cold start): the ONNX text encoder loads (from the export baked
into the image, so torch is never imported) and the index opens: a snapshot published to S3
(VIEWFINDER_INDEX=s3://bucket/indexes/NAME, downloaded and verified into /tmp) or an index directory on a
mounted EFS path. Warm invocations only search. Settings come from the environment:

    VIEWFINDER_INDEX            s3://… snapshot location or a directory (required)
    VIEWFINDER_CACHE            where the ONNX export lives (the image sets it)
    VIEWFINDER_SNAPSHOT_CACHE   where snapshots are downloaded (default /tmp/viewfinder-snapshots)
    VIEWFINDER_RUNTIME          onnx (default) or onnx-int8
    VIEWFINDER_PRESIGN_TTL      seconds an /images/{id} redirect stays valid (default 900)
    VIEWFINDER_API_TOKEN        optional bearer token for every route but /healthz and the UI
    VIEWFINDER_ALLOWED_HOSTS    Host names to accept, comma-separated (default *: any)
    VIEWFINDER_POLL_SECONDS     how often an invocation checks for a newer snapshot first (default 60)

A Lambda environment is frozen between invocations, so nothing can poll in the background: the first
invocation after VIEWFINDER_POLL_SECONDS checks the pointer (one small GET) and, when it moved, swaps to the
new snapshot (downloaded and verified, as `viewfinder serve` does) before it answers. Warm environments so
follow a publish or a rollback within that time, instead of serving the old snapshot until they are recycled.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from viewfinder.app import LiveIndex
from viewfinder.app.serving import one_thread_per_query
from viewfinder.errors import ViewfinderError
from viewfinder.serve.app import create_app
from viewfinder.serve.routes_images import PRESIGN_TTL

log = logging.getLogger(__name__)


def build_handler() -> Any:
    """The Lambda handler over the index the environment names; loads it and the model now."""
    try:
        from mangum import Mangum
    except ImportError:
        raise ViewfinderError("The Lambda handler needs mangum: pip install 'viewfinder[lambda]'.") from None
    index = os.environ.get("VIEWFINDER_INDEX")
    if not index:
        raise ViewfinderError("Set VIEWFINDER_INDEX to s3://bucket/indexes/NAME or an index directory on EFS.")
    os.environ.setdefault("VIEWFINDER_SNAPSHOT_CACHE", "/tmp/viewfinder-snapshots")  # only /tmp is writable
    one_thread_per_query()
    app = create_app(
        index,
        device="cpu",
        runtime=os.environ.get("VIEWFINDER_RUNTIME", "onnx"),
        presign_ttl=int(os.environ.get("VIEWFINDER_PRESIGN_TTL", PRESIGN_TTL)),
        api_token=os.environ.get("VIEWFINDER_API_TOKEN") or None,
        # API Gateway is the front door and its host names vary (custom domains): DNS rebinding, which the
        # Host check guards a loopback server against, does not apply to a public API.
        allowed_hosts=[h.strip() for h in os.environ.get("VIEWFINDER_ALLOWED_HOSTS", "*").split(",") if h.strip()],
    )
    return _following(Mangum(app, lifespan="off"), app.state.live, float(os.environ.get("VIEWFINDER_POLL_SECONDS", 60)))


def _following(answer: Callable[[Any, Any], Any], live: LiveIndex, poll_seconds: float) -> Callable[[Any, Any], Any]:
    """`answer` (no lifespan: nothing runs between invocations), checking for a newer index first when due."""
    checked = time.monotonic()

    def handler(event: Any, context: Any) -> Any:
        nonlocal checked
        if time.monotonic() - checked >= poll_seconds:
            checked = time.monotonic()
            try:
                live.refresh()
            except Exception as error:  # a bad snapshot is never swapped in: keep answering from this one
                log.warning("cannot follow %s: %s", os.environ.get("VIEWFINDER_INDEX"), error)
        return answer(event, context)

    return handler


handler = build_handler() if os.environ.get("AWS_LAMBDA_RUNTIME_API") else None
