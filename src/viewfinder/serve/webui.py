"""The web UI: the built page at / and /assets, or a page that says how to build it."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles

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


def add_ui(app: FastAPI, webui_dir: Path) -> None:
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
