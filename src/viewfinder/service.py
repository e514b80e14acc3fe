"""The HTTP service behind `viewfinder serve`: a thin FastAPI layer over the search library.

Routes and shapes are in docs/API.md and at /openapi.json. The layer parses and checks requests, turns the
library's answers into JSON and its errors into 4xx responses; searching, reranking, thumbnails and index
updates live in `engine`, `ranking`, `thumbnails` and `live`.
"""

import hmac
import logging
import os
import socket
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote

import uvicorn
from fastapi import Cookie, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viewfinder import __version__, ranking
from viewfinder import query as algebra
from viewfinder.catalog import ImageRecord
from viewfinder.decode import DecodeError
from viewfinder.engine import MAX_K, Filters, Hit
from viewfinder.errors import UnknownImageError, ViewfinderError
from viewfinder.live import POLL_SECONDS, LiveIndex, ReindexJob
from viewfinder.lru import LRUCache
from viewfinder.query import Term
from viewfinder.thumbnails import etag_of, thumbnail

MAX_UPLOAD_BYTES = 20 * 2**20
MAX_JSON_BYTES = 64 * 2**10
RESPONSE_CACHE_SIZE = 512
WEBUI_DIR = Path(__file__).parent / "webui"
THUMBNAIL_CACHE_CONTROL = "private, max-age=3600"
IMAGE_CACHE_CONTROL = "private, max-age=3600"
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}
UI_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Viewfinder</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Viewfinder</h1>
<p>The search API is running, but the web UI has not been built.</p>
<p>Build it once with <code>bash scripts/build_web.sh</code> (needs Node 20+ and npm), then restart
<code>viewfinder serve</code>. The API is described at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""

log = logging.getLogger(__name__)


QueryText = Annotated[str, Field(min_length=1, max_length=algebra.MAX_TEXT_CHARS)]


class TermIn(BaseModel):
    """One weighted term: a text or an indexed image id; negative weights subtract."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["text"]}, {"required": ["image_id"]}]}
    )
    text: QueryText | None = None
    image_id: str | None = None
    weight: float = Field(1.0, ge=-algebra.MAX_WEIGHT, le=algebra.MAX_WEIGHT)


class FiltersIn(BaseModel):
    """Metadata conditions; dates are ISO (YYYY-MM-DD or a date-time), inclusive."""

    model_config = ConfigDict(extra="forbid")
    taken_after: str | None = None
    taken_before: str | None = None
    folder: str | None = Field(None, max_length=1000, description="relative to the source root, with sub-folders")
    min_width: int | None = Field(None, ge=0, le=1_000_000)
    min_height: int | None = Field(None, ge=0, le=1_000_000)


class RerankIn(BaseModel):
    """Weights of the metadata rerank (docs/API.md gives the formula); both 0 by default."""

    model_config = ConfigDict(extra="forbid")
    recency: float = Field(0.0, ge=0.0, le=ranking.MAX_RERANK_WEIGHT)
    resolution: float = Field(0.0, ge=0.0, le=ranking.MAX_RERANK_WEIGHT)


class SearchIn(BaseModel):
    """A search: at least one of `query`, `image_id` or `terms`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": [name]} for name in ("query", "image_id", "terms")]},
    )
    query: QueryText | None = Field(None, description="text to look for (weight 1)")
    top_k: int = Field(50, ge=1, le=MAX_K)
    negative: QueryText | None = Field(None, description="text to steer away from (weight -1)")
    image_id: str | None = Field(None, description="an indexed image to find similar ones to (weight 1)")
    terms: list[TermIn] | None = Field(None, max_length=algebra.MAX_TERMS)
    filters: FiltersIn | None = None
    rerank: RerankIn | None = None

    def query_terms(self) -> list[Term]:
        terms = [Term(text=self.query)] if self.query is not None else []
        terms += [Term(image_id=self.image_id)] if self.image_id is not None else []
        terms += [Term(weight=t.weight, text=t.text, image_id=t.image_id) for t in self.terms or ()]
        terms += [Term(weight=algebra.NEGATIVE_WEIGHT, text=self.negative)] if self.negative is not None else []
        return terms


class ImageOut(BaseModel):
    image_id: str
    image_url: str
    thumbnail_url: str
    width: int
    height: int
    file_name: str
    folder: str
    size_bytes: int
    taken_at: str | None


class ResultOut(ImageOut):
    rank: int
    similarity: float


class SearchOut(BaseModel):
    success: Literal[True]
    query: str
    count: int
    results: list[ResultOut]
    timings_ms: dict[str, float]
    cached: bool


class ErrorOut(BaseModel):
    success: Literal[False]
    error: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    images: int


class StatsOut(BaseModel):
    images: int
    skipped: int
    model: str
    dim: int
    index_type: str
    bytes_on_disk: int
    folders: list[str]
    taken_range: tuple[str, str] | None
    generation: int
    example_queries: list[str]


class JobOut(BaseModel):
    id: str
    state: Literal["running", "done", "failed"]
    roots: list[str]
    missing_roots: list[str]
    started_at: str
    finished_at: str | None
    report: dict[str, Any] | None
    error: str | None
    generation: int | None


class ReindexOut(BaseModel):
    success: Literal[True]
    job: JobOut | None


_CHALLENGE = {"WWW-Authenticate": "Bearer"}
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]
# The web UI keeps the search token in this cookie (SameSite=Strict), since <img> requests cannot send headers.
TOKEN_COOKIE = "viewfinder_token"
TokenCookie = Annotated[str | None, Cookie(alias=TOKEN_COOKIE, include_in_schema=False)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut, "description": HTTPStatus(code).phrase} for code in codes}


class BodyLimit:
    """Refuses request bodies over a size limit with 413, by Content-Length before reading, else while reading."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        message = f"The request body is larger than the limit of {_size(limit)}."
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _error(413, message)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            item = await receive()
            received += len(item.get("body", b""))
            if received > limit:
                raise HTTPException(413, message)  # reaches the route's error handling like any bad body
            return item

        await self.app(scope, limited, send)


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
) -> FastAPI:
    """The Viewfinder ASGI app over one index; loads the index and its text encoder before returning."""
    live = LiveIndex(index_path, device=device, sources=sources, poll_seconds=poll_seconds, runtime=runtime)
    responses: LRUCache[dict[str, Any]] = LRUCache(RESPONSE_CACHE_SIZE)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        live.start_watching()
        yield
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

    def require_api_token(credentials: Credentials, cookie: TokenCookie = None) -> None:
        offered = [credentials.credentials if credentials else None, unquote(cookie) if cookie else None]
        if api_token is not None and not any(_token_matches(token, api_token) for token in offered):
            raise HTTPException(401, "This server needs a token: send Authorization: Bearer <token>.", _CHALLENGE)

    def require_admin_token(credentials: Credentials) -> None:
        if admin_token is None:
            raise HTTPException(403, "Admin routes are disabled; start the server with VIEWFINDER_ADMIN_TOKEN set.")
        if not _token_matches(credentials.credentials if credentials else None, admin_token):
            raise HTTPException(401, "Admin routes need Authorization: Bearer <VIEWFINDER_ADMIN_TOKEN>.", _CHALLENGE)

    guarded = [Depends(require_api_token)] if api_token is not None else []
    admin = [Depends(require_admin_token)]

    def answer(
        terms: list[Term], k: int, filters: Filters | None = None, rerank: ranking.Rerank | None = None
    ) -> JSONResponse:
        started = time.perf_counter()
        cacheable = all(term.image_bytes is None for term in terms)
        with live.engine() as engine:
            key = (engine.generation, tuple(algebra.validate(terms)), k, filters, rerank) if cacheable else None
            cached = responses.get(key) if key else None
            if cached is not None:
                elapsed = round((time.perf_counter() - started) * 1000, 3)
                timings = {"encode": 0.0, "search": 0.0, "rerank": 0.0, "total": elapsed}
                return JSONResponse({**cached, "timings_ms": timings, "cached": True})
            result = ranking.search(engine, terms, k, filters, rerank)
        body = {
            "success": True,
            "query": result.query,
            "count": len(result.hits),
            "results": [_result_json(hit) for hit in result.hits],
        }
        if key:
            responses.put(key, body)
        return JSONResponse({**body, "timings_ms": result.timings_ms, "cached": False})

    @app.post(
        "/search",
        response_model=SearchOut,
        dependencies=[*guarded, Depends(_json_body)],
        responses=_errors(400, 401, 404, 413, 415, 422),
    )
    def search(body: SearchIn) -> Response:
        """Ranks the library for a text, an indexed image, weighted terms or a mix, with optional filters."""
        filters = Filters(**body.filters.model_dump()) if body.filters else None
        rerank = ranking.Rerank(**body.rerank.model_dump()) if body.rerank else None
        return answer(body.query_terms(), body.top_k, filters, rerank)

    @app.post(
        "/search/image",
        response_model=SearchOut,
        dependencies=[*guarded, Depends(_multipart_body)],
        responses=_errors(400, 401, 404, 413, 415, 422),
    )
    def search_image(
        image: Annotated[UploadFile, File(description="the query image (JPEG, PNG, WebP, ...)")],
        top_k: Annotated[int, Form(ge=1, le=MAX_K)] = 50,
        query: Annotated[str | None, Form(description="text to add")] = None,
        negative: Annotated[str | None, Form(description="text to steer away from (weight -1)")] = None,
        image_weight: Annotated[float, Form(ge=-algebra.MAX_WEIGHT, le=algebra.MAX_WEIGHT)] = 1.0,
        query_weight: Annotated[float, Form(ge=-algebra.MAX_WEIGHT, le=algebra.MAX_WEIGHT)] = 1.0,
        taken_after: Annotated[str | None, Form()] = None,
        taken_before: Annotated[str | None, Form()] = None,
        folder: Annotated[str | None, Form(max_length=1000)] = None,
    ) -> Response:
        """Ranks the library by similarity to an uploaded image, optionally with texts, weights and filters."""
        terms = [Term(weight=image_weight, image_bytes=image.file.read())]
        # HTML forms send empty fields for unused inputs: empty means absent here.
        terms += [Term(weight=query_weight, text=query)] if query else []
        terms += [Term(weight=algebra.NEGATIVE_WEIGHT, text=negative)] if negative else []
        conditions = {
            "taken_after": taken_after or None,
            "taken_before": taken_before or None,
            "folder": folder or None,
        }
        filters = Filters(**conditions) if any(conditions.values()) else None
        return answer(terms, top_k, filters)

    @app.get("/images/{image_id}", dependencies=guarded, responses=_errors(401, 404), response_class=FileResponse)
    def image_file(image_id: str) -> Response:
        """The original bytes of an indexed image."""
        with live.engine() as engine:
            image = engine.image(image_id)
        try:
            # Opened here, not only stat'ed, so an unreadable file is a 404 before the response starts.
            with open(image.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
        except OSError:
            raise HTTPException(404, f"The file of image {image.id} is no longer there; re-run indexing.") from None
        headers = {"Cache-Control": IMAGE_CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
        media_type = MEDIA_TYPES.get(image.format, "application/octet-stream")
        return FileResponse(
            image.path,
            stat_result=stat,
            media_type=media_type,
            headers=headers,
            filename=image.file_name,
            content_disposition_type="inline",
        )

    @app.get(
        "/thumbnails/{image_id}",
        dependencies=guarded,
        responses={**_errors(401, 404), 200: {"content": {"image/jpeg": {}}}, 304: {"description": "Not Modified"}},
        response_class=Response,
    )
    def thumbnail_file(image_id: str, request: Request) -> Response:
        """A JPEG thumbnail (longest side 384 px), made once and cached; answers 304 to a matching If-None-Match."""
        with live.engine() as engine:
            image = engine.image(image_id)
        headers = {"ETag": etag_of(image), "Cache-Control": THUMBNAIL_CACHE_CONTROL}
        if _etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        try:
            made = thumbnail(live.index_dir.path, image)
        except DecodeError as error:
            raise HTTPException(404, f"Image {image.id} can no longer be read ({error}); re-run indexing.") from None
        return Response(made.data, media_type="image/jpeg", headers=headers)

    @app.get("/images/{image_id}/meta", response_model=ImageOut, dependencies=guarded, responses=_errors(401, 404))
    def image_meta(image_id: str) -> dict[str, Any]:
        """What the index knows about an image: the search result fields without rank and similarity."""
        with live.engine() as engine:
            return _image_json(engine.image(image_id))

    @app.get("/healthz", response_model=HealthOut)
    def healthz() -> dict[str, Any]:
        """Liveness and the number of searchable images (never needs a token)."""
        with live.engine() as engine:
            return {"status": "ok", "images": engine.vectors.count}

    @app.get("/stats", response_model=StatsOut, dependencies=guarded, responses=_errors(401))
    def stats() -> dict[str, Any]:
        """A summary of the index: size, model, folders and capture-date range (for the UI's filters)."""
        return asdict(live.stats())

    @app.post(
        "/admin/reindex",
        status_code=202,
        response_model=ReindexOut,
        dependencies=admin,
        responses=_errors(400, 401, 403),
    )
    def reindex() -> dict[str, Any]:
        """Starts incremental indexing of the source folders; the new index is served once it is complete."""
        return {"success": True, "job": _job_json(live.reindex())}

    @app.get("/admin/reindex", response_model=ReindexOut, dependencies=admin, responses=_errors(401, 403))
    def reindex_status() -> dict[str, Any]:
        """The latest reindex job (null before the first)."""
        return {"success": True, "job": _job_json(live.job) if live.job else None}

    _add_ui(app, webui_dir)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, limits={"/search/image": MAX_UPLOAD_BYTES}, default=MAX_JSON_BYTES)
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


def _token_matches(offered: str | None, token: str) -> bool:
    # compare_digest takes the same time wherever the strings differ; bytes, since it refuses non-ASCII str.
    return offered is not None and hmac.compare_digest(offered.encode(), token.encode())


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _json_body(request: Request) -> None:
    if _media_type(request) != "application/json":
        raise HTTPException(415, "Send the search as JSON, with Content-Type: application/json.")


def _multipart_body(request: Request) -> None:
    if _media_type(request) != "multipart/form-data":
        raise HTTPException(415, "Upload the image as multipart/form-data, in a file field named image.")


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _image_json(image: ImageRecord) -> dict[str, Any]:
    return {
        "image_id": str(image.id),
        "image_url": f"/images/{image.id}",
        "thumbnail_url": f"/thumbnails/{image.id}",
        "width": image.width,
        "height": image.height,
        "file_name": image.file_name,
        "folder": image.folder,
        "size_bytes": image.size,
        "taken_at": image.taken_at,
    }


def _result_json(hit: Hit) -> dict[str, Any]:
    return {"rank": hit.rank, **_image_json(hit.image), "similarity": round(hit.similarity, 6)}


def _job_json(job: ReindexJob) -> dict[str, Any]:
    return {
        **asdict(job),
        "id": str(job.id),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at) if job.finished_at is not None else None,
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _size(limit: int) -> str:
    return f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit / 2**10:g} KB"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=status, headers=headers)


def _add_ui(app: FastAPI, webui_dir: Path) -> None:
    """Serves the built web UI at / and /assets, or a page that says how to build it."""
    index_html = webui_dir / "index.html"
    if index_html.is_file():
        app.mount("/assets", StaticFiles(directory=webui_dir / "assets", check_dir=False), name="assets")

        @app.get("/", include_in_schema=False)
        def web_ui() -> Response:
            return FileResponse(index_html, headers={"Cache-Control": "no-cache"})

    else:

        @app.get("/", include_in_schema=False)
        def web_ui_missing() -> Response:
            return HTMLResponse(UI_NOT_BUILT)


def _add_error_handlers(app: FastAPI) -> None:
    """Every failure becomes {"success": false, "error": "<one sentence>"}; only bugs are 5xx."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return _error(status, message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail
        if message == HTTPStatus(exc.status_code).phrase:  # raised by the framework, not by a route
            if exc.status_code == 404:
                message = f"No route {request.url.path}; the API is described at /openapi.json."
            elif exc.status_code == 405:
                message = f"{request.method} is not allowed on {request.url.path}."
        return _error(exc.status_code, str(message), exc.headers)

    @app.exception_handler(ViewfinderError)
    async def library_error(request: Request, exc: ViewfinderError) -> JSONResponse:
        return _error(404 if isinstance(exc, UnknownImageError) else 400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, f"Internal error ({type(exc).__name__}); please report it with the server's log.")


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """One readable sentence (and status) for pydantic's list of problems."""
    errors = exc.errors()
    first = errors[0]
    more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
    if first["type"] == "json_invalid":
        reason = first.get("ctx", {}).get("error", "JSON decode error")
        return 400, f"The request body is not valid JSON: {reason} at character {first['loc'][-1]}."
    field = ".".join(str(part) for part in first["loc"][1:])
    if first["type"] == "missing":
        return 422, (f"The field {field} is required" if field else "The request needs a JSON object body") + more + "."
    if first["type"] == "extra_forbidden":
        return 422, f"Unknown field {first['loc'][-1]!r}; /openapi.json lists the fields{more}."
    if not field:
        return 422, f"The request body must be a JSON object{more}."
    message = str(first["msg"])
    return 422, f"Invalid {field}: {message[:1].lower()}{message[1:]}{more}."


class _Server(uvicorn.Server):
    """uvicorn, printing one line with the URL once the socket is open and the app is ready."""

    def __init__(self, config: uvicorn.Config, ready_line: str) -> None:
        super().__init__(config)
        self.ready_line = ready_line

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
            print(self.ready_line.format(url=url), flush=True)


def serve(
    index_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "auto",
    sources: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
    runtime: str = "auto",
) -> None:
    """Runs the service until interrupted; tokens and CORS origins may come from the environment.

    VIEWFINDER_API_TOKEN protects every route but the UI and /healthz; VIEWFINDER_ADMIN_TOKEN enables
    /admin; VIEWFINDER_CORS_ORIGINS (comma-separated) is used when no --cors-origin is given.
    """
    listener = _listen(host, port)  # before the slow model load, so a taken port fails at once
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger("viewfinder").setLevel(logging.INFO)
    logging.getLogger("python_multipart").setLevel(logging.ERROR)  # a warning per malformed upload is noise
    if not cors_origins:
        cors_origins = [o.strip() for o in os.environ.get("VIEWFINDER_CORS_ORIGINS", "").split(",") if o.strip()]
    app = create_app(
        index_path,
        device=device,
        sources=sources,
        cors_origins=cors_origins,
        runtime=runtime,
        api_token=os.environ.get("VIEWFINDER_API_TOKEN") or None,
        admin_token=os.environ.get("VIEWFINDER_ADMIN_TOKEN") or None,
    )
    with app.state.live.engine() as engine:
        images = engine.vectors.count
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    _Server(config, f"Viewfinder is serving {images} images from {index_path} at {{url}}").run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port; ViewfinderError with the fix when the address is taken or invalid."""
    if not 0 <= port <= 65535:
        raise ViewfinderError(f"--port {port} is not a port number; use 1-65535, or 0 for a free one.")
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, protocol)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ViewfinderError(f"Cannot listen on {host}:{port} ({reason}); choose another --port or --host.") from None
    return listener
