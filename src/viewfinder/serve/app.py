"""The HTTP service behind `viewfinder serve`: a thin FastAPI layer over the search library.

Routes and shapes are in docs/API.md and at /openapi.json. The layer parses and checks requests, turns the
library's answers into JSON and its errors into 4xx responses; searching, reranking, thumbnails and index
updates live in the `search` and `store` packages and in `live`. Routes are grouped by concern in the
`routes_*` modules; this module wires them, the guards and the middleware together.
"""

from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from viewfinder.app.library import default_review_folder, is_object_store_url
from viewfinder.app.limits import decode_budget
from viewfinder.app.live import POLL_SECONDS, LiveIndex
from viewfinder.app.serving import LRUCache
from viewfinder.app.snapshot_live import SnapshotLiveIndex
from viewfinder.serve.errors import add_error_handlers
from viewfinder.serve.guards import (
    LOOPBACK_HOSTS,
    BodyLimit,
    HostGuard,
    OriginGuard,
    admin_token_guard,
    api_token_guard,
)
from viewfinder.serve.routes_images import image_routes
from viewfinder.serve.routes_index import index_routes
from viewfinder.serve.routes_library import library_routes
from viewfinder.serve.routes_renditions import rendition_routes
from viewfinder.serve.routes_search import search_routes
from viewfinder.serve.webui import WEBUI_DIR, add_ui
from viewfinder.settings import DECODE_MEMORY_MB, PRESIGN_TTL
from viewfinder.version import __version__

MAX_UPLOAD_BYTES = 20 * 2**20
MAX_JSON_BYTES = 64 * 2**10
RESPONSE_CACHE_SIZE = 512
# 512 answers of top_k 1000 would hold ~130 MB of JSON (and ~400 MB as Python objects); the cache keeps JSON.
RESPONSE_CACHE_BYTES = 64 * 2**20


def create_app(
    index_path: str | Path,
    *,
    device: str = "auto",
    sources: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
    api_token: str | None = None,
    admin_token: str | None = None,
    webui_dir: Path = WEBUI_DIR,
    poll_seconds: float = POLL_SECONDS,
    runtime: str = "auto",
    query_model: str | None = None,
    presign_ttl: int = PRESIGN_TTL,
    min_relevance: float | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    any_ip_host: bool = False,
    watch: bool = False,
    decode_memory_mb: int = DECODE_MEMORY_MB,
    review_folder: str | Path | None = None,
    warm_thumbnails: bool = False,
) -> FastAPI:
    """The Viewfinder ASGI app over one index (a directory, or a snapshot published at s3://…); loads the
    index and its text encoder before returning.

    Requests must name one of `allowed_hosts` ("*": any) in their Host header, or any IP address when
    `any_ip_host`; the default suits a server bound to loopback. `min_relevance` is the threshold for
    searches that give none (None: the model's default, docs/API.md). `decode_memory_mb` bounds the memory of
    the images this process decodes at once (app/limits.py). Requests other than reads from a web page of
    another site than `cors_origins` are refused. `review_folder` is where resolved duplicates are moved
    (default: viewfinder-review beside the index; a snapshot's server moves none). `warm_thumbnails` makes the
    thumbnails of local photos in the background while the app runs (`viewfinder serve` does).
    """
    decode_budget.resize(decode_memory_mb * 2**20)
    if is_object_store_url(str(index_path)):
        live: LiveIndex = SnapshotLiveIndex(
            str(index_path), device=device, poll_seconds=poll_seconds, runtime=runtime, query_model=query_model
        )
    else:
        live = LiveIndex(
            index_path, device, sources, poll_seconds=poll_seconds, runtime=runtime, query_model=query_model
        )
    responses: LRUCache[bytes] = LRUCache(RESPONSE_CACHE_SIZE, max_bytes=RESPONSE_CACHE_BYTES)

    folders = live.folder_watcher() if watch else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        live.start_watching()
        if warm_thumbnails:
            live.start_warming()
        if folders is not None:
            folders.start()
        yield
        if folders is not None:
            folders.stop()
        live.close()

    app = FastAPI(
        title="Viewfinder",
        version=__version__,
        description="Semantic search over a photo library: text, example images and uploads (docs/API.md).",
        docs_url=None,  # the interactive docs load scripts from a CDN; this service works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.live = live
    guarded = api_token_guard(api_token)
    app.include_router(search_routes(live, responses, guarded, min_relevance))
    app.include_router(image_routes(live, guarded, presign_ttl))
    app.include_router(rendition_routes(live, guarded))
    app.include_router(index_routes(live, guarded, admin_token_guard(admin_token)))
    if is_object_store_url(str(index_path)):
        review: Path | None = None
    else:
        review = Path(review_folder).expanduser() if review_folder else default_review_folder(Path(index_path))
    app.include_router(library_routes(live, guarded, review))
    add_ui(app, webui_dir)
    add_error_handlers(app)
    app.add_middleware(BodyLimit, limits={"/search/image": MAX_UPLOAD_BYTES}, default=MAX_JSON_BYTES)
    app.add_middleware(OriginGuard, allowed_origins=list(cors_origins))
    app.add_middleware(HostGuard, allowed=list(allowed_hosts), any_ip=any_ip_host)
    if cors_origins:
        # Outermost, so error responses carry the CORS headers too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    return app
