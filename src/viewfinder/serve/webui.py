"""The web UI: the built page at / and /assets, or a page that says how to build it.

The assets' names carry a hash of their content (vite writes them so), so a name never changes content:
browsers may keep them for a year without asking again. Text assets go gzipped to browsers that take it,
compressed once per file and kept in memory (the page has a handful).
"""

import gzip
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import Headers
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEBUI_DIR = Path(__file__).parent.parent / "webui"
UI_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Viewfinder</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Viewfinder</h1>
<p>The search API is running, but the web UI has not been built.</p>
<p>Build it once with <code>bash scripts/build_web.sh</code> (needs Node 20+ and npm), then restart
<code>viewfinder serve</code>. The API is described at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""
IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".map", ".txt", ".html")


class AssetFiles(StaticFiles):
    """The built page's /assets: kept for a year by browsers, text ones sent gzipped."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code not in (200, 304):
            return response
        response.headers["Cache-Control"] = IMMUTABLE
        response.headers["Vary"] = "Accept-Encoding"
        takes_gzip = "gzip" in Headers(scope=scope).get("accept-encoding", "").lower()
        sent = response.status_code == 200 and scope["method"] == "GET"
        if not sent or not takes_gzip or not isinstance(response, FileResponse):
            return response
        file = Path(response.path)
        if file.suffix not in COMPRESSIBLE:
            return response
        headers = {name: value for name, value in response.headers.items() if name not in ("content-length",)}
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped(file, file.stat().st_mtime_ns), headers=headers, media_type=response.media_type)


@lru_cache(maxsize=64)
def _gzipped(file: Path, mtime_ns: int) -> bytes:
    """The file's bytes gzipped; `mtime_ns` keys the cache, so a rebuilt page is compressed afresh."""
    return gzip.compress(file.read_bytes(), compresslevel=9, mtime=0)


def add_ui(app: FastAPI, webui_dir: Path) -> None:
    """Serves the built web UI at / and /assets, or a page that says how to build it."""
    index_html = webui_dir / "index.html"
    if index_html.is_file():
        app.mount("/assets", AssetFiles(directory=webui_dir / "assets", check_dir=False), name="assets")

        @app.get("/", include_in_schema=False)
        def web_ui() -> Response:
            return FileResponse(index_html, headers={"Cache-Control": "no-cache"})

    else:

        @app.get("/", include_in_schema=False)
        def web_ui_missing() -> Response:
            return HTMLResponse(UI_NOT_BUILT)
