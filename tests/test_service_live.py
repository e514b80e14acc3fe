"""Live index updates through a running server: a reindex swaps indexes under continuous searching, and an
index updated by a separate `viewfinder index` process is noticed; plus admin auth and the built web UI."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from cli_helpers import run_subprocess, write_colour_images
from service_helpers import ADMIN_TOKEN, start_server_thread, wait_for

from viewfinder.app import LiveIndex
from viewfinder.pipeline.indexer import run_index
from viewfinder.pipeline.maintenance import remove_sources
from viewfinder.search.query import Term
from viewfinder.serve.app import create_app

pytestmark = pytest.mark.slow  # servers swapping indexes under continuous searching

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    library, index, webui = root / "photos", root / "index", root / "webui"
    write_colour_images(library, 12)
    run_index(index, [str(library)], model="test:tiny")
    (webui / "assets").mkdir(parents=True)
    (webui / "index.html").write_text('<!doctype html><div id="root"></div><script src="/assets/app.js"></script>')
    (webui / "assets" / "app.js").write_text("console.log('viewfinder');")
    app = create_app(index, device="cpu", admin_token=ADMIN_TOKEN, webui_dir=webui, poll_seconds=0.1)
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield SimpleNamespace(url=url, client=client, library=library, index=index)


class SearchLoop:
    """Searches over and over on a thread (a new text each time, so no answer comes from the cache) until
    stopped, recording each result count and every failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SearchLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            number = 0
            # Bounded in count as well as by the test's stop, so a stuck test cannot loop forever.
            while not self._stop.is_set() and number < 20_000:
                number += 1
                try:
                    response = http.post("/search", json={"query": f"loop {number}", "top_k": 1000})
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                    continue
                if response.status_code == 200:
                    self.counts.append(response.json()["count"])
                else:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")


def healthy_images(live) -> int:
    return live.client.get("/healthz").json()["images"]


def all_file_names(live) -> set[str]:
    response = live.client.post("/search", json={"query": "anything", "top_k": 1000})
    return {result["file_name"] for result in response.json()["results"]}


def test_reindex_swaps_to_the_new_index_while_searches_keep_succeeding(live):
    before = healthy_images(live)
    repeated = {"query": "a repeated query", "top_k": 1000}
    live.client.post("/search", json=repeated)
    assert live.client.post("/search", json=repeated).json()["cached"] is True

    with SearchLoop(live.url) as loop:
        wait_for(lambda: len(loop.counts) >= 5, what="searches before the reindex")
        added = write_colour_images(live.library, 6, seed=7, start=500)
        started = live.client.post("/admin/reindex", headers=ADMIN)
        assert started.status_code == 202 and started.json()["success"] is True
        assert started.json()["job"]["state"] in ("running", "done")

        def job() -> dict:
            return live.client.get("/admin/reindex", headers=ADMIN).json()["job"]

        wait_for(lambda: job()["state"] != "running", timeout=120, what="the reindex job")
        finished = job()
        assert finished["state"] == "done", finished["error"]
        assert finished["report"]["added"] == 6 and finished["roots"] == [str(live.library)]
        wait_for(lambda: loop.counts[-1] == before + 6, what="searches after the swap")

    assert loop.failures == []
    # Every answer came from a whole index, the old or the new one, never from one half-built.
    assert set(loop.counts) == {before, before + 6}
    assert {path.name for path in added} <= all_file_names(live)
    after = live.client.post("/search", json=repeated).json()
    assert after["cached"] is False and after["count"] == before + 6
    assert live.client.get("/stats").json()["generation"] == finished["generation"]


def test_an_index_updated_by_a_separate_index_process_is_noticed(live):
    before = healthy_images(live)
    removed = sorted(live.library.glob("image-*.jpg"))[:3]
    for path in removed:
        path.unlink()
    completed = run_subprocess("index", live.library, "--index", live.index, "--json")
    assert completed.returncode == 0, completed.stderr

    wait_for(lambda: healthy_images(live) == before - 3, timeout=30, what="the server to notice the new index")
    assert not {path.name for path in removed} & all_file_names(live)


def test_admin_routes_need_the_admin_token(live):
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        for response in (live.client.post("/admin/reindex", headers=headers), live.client.get("/admin/reindex")):
            assert response.status_code == 401 and response.json()["success"] is False
    # The web UI's search-token cookie is no way into admin routes, even holding the admin token.
    cookie = {"Cookie": f"viewfinder_token={ADMIN_TOKEN}"}
    assert live.client.post("/admin/reindex", headers=cookie).status_code == 401


def test_built_web_ui_is_served_at_the_root_with_its_assets(live):
    page = live.client.get("/")
    assert page.status_code == 200 and '<div id="root">' in page.text
    asset = live.client.get("/assets/app.js")
    assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
    missing = live.client.get("/assets/missing.js")
    assert missing.status_code == 404 and missing.json()["success"] is False


def test_assets_are_sent_gzipped_and_kept_for_a_year(live):
    # Their names carry a hash of their content (vite), so one name never changes content.
    gzipped = live.client.get("/assets/app.js", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip" and gzipped.text == "console.log('viewfinder');"
    assert gzipped.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in gzipped.headers["vary"] and "javascript" in gzipped.headers["content-type"]
    plain = live.client.get("/assets/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == gzipped.text
    assert plain.headers["cache-control"] == gzipped.headers["cache-control"]
    again = live.client.get("/assets/app.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == gzipped.headers["cache-control"]
    assert live.client.get("/").headers["cache-control"] == "no-cache"  # the page itself is always checked


def test_reindex_reports_source_folders_that_vanished(tmp_path: Path):
    folder, index = tmp_path / "gone", tmp_path / "index"
    write_colour_images(folder, 2)
    run_index(index, [str(folder)], model="test:tiny")
    shutil.rmtree(folder)
    app = create_app(index, device="cpu", admin_token=ADMIN_TOKEN)
    with start_server_thread(app) as url, httpx.Client(base_url=url, headers=ADMIN) as client:
        assert client.post("/admin/reindex").status_code == 202
        wait_for(lambda: client.get("/admin/reindex").json()["job"]["state"] != "running", what="the job")
        job = client.get("/admin/reindex").json()["job"]
        assert job["state"] == "failed" and job["missing_roots"] == [str(folder)] and "can be found" in job["error"]


def test_an_empty_index_is_served_and_reindex_needs_a_known_source(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    run_index(tmp_path / "index", [str(tmp_path / "empty")], model="test:tiny")
    # An indexed folder is recorded as a source even when empty; removing it leaves none known.
    remove_sources(tmp_path / "index", [str(tmp_path / "empty")])
    app = create_app(tmp_path / "index", device="cpu", admin_token=ADMIN_TOKEN)
    with start_server_thread(app) as url, httpx.Client(base_url=url, headers=ADMIN) as client:
        assert client.get("/healthz").json() == {"status": "ok", "images": 0}
        assert client.post("/search", json={"query": "cat"}).json()["count"] == 0
        refused = client.post("/admin/reindex")
        assert refused.status_code == 400 and "--source" in refused.json()["error"]


def test_a_search_keeps_its_engine_through_a_swap_and_the_old_engine_closes_after(tmp_path: Path):
    library, index = tmp_path / "photos", tmp_path / "index"
    write_colour_images(library, 4)
    run_index(index, [str(library)], model="test:tiny")
    live = LiveIndex(index, device="cpu")
    try:
        assert live.refresh() is False  # nothing new on disk
        with live.index() as old:
            write_colour_images(library, 2, seed=3, start=50)
            run_index(index, [str(library)], embedder=old.embedder)
            assert live.refresh() is True
            with live.index() as new:
                assert new is not old and new.vectors.count == 6 and new.embedder is old.embedder
            assert len(old.search([Term(text="sky")], k=10).hits) == 4  # still open, on the old index
        with pytest.raises(sqlite3.ProgrammingError):
            old.catalog.count()  # closed once its last user finished
    finally:
        live.close()
