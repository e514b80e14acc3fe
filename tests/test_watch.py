"""Watching folders: changes reach the index once files are complete; failures are reported, not fatal."""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

from viewfinder.pipeline.indexer import run_index
from viewfinder.pipeline.watch import FolderWatcher
from viewfinder.store.indexdir import IndexDir

WAIT = 60  # seconds: an upper bound for a busy machine, never a measured expectation


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), colour).save(path)
    return path


def indexed_paths(index: Path) -> set[str]:
    catalog = IndexDir(index).open_catalog(readonly=True)
    try:
        return {row[0] for row in catalog.db.execute("SELECT path FROM images")}
    finally:
        catalog.close()


def test_added_changed_moved_and_deleted_photos_reach_the_index(tmp_path, tiny_embedder):
    photos, index = tmp_path / "photos", tmp_path / "index"
    first = picture(photos / "first.png", (200, 0, 0))
    run_index(index, [str(photos)], embedder=tiny_embedder, model="test:tiny")
    runs: queue.Queue[set[str]] = queue.Queue()

    def update() -> None:
        run_index(index, [str(photos)], embedder=tiny_embedder)
        runs.put(indexed_paths(index))

    watcher = FolderWatcher([str(photos)], update, stable_seconds=0.1)
    watcher.start()
    try:
        second = picture(photos / "sub" / "second.png", (0, 200, 0))
        wait_for(runs, lambda paths: str(second) in paths)
        moved = photos / "moved.png"
        shutil.move(second, moved)
        wait_for(runs, lambda paths: str(moved) in paths and str(second) not in paths)
        first.unlink()
        wait_for(runs, lambda paths: str(first) not in paths)
    finally:
        watcher.stop()


class LookingWatcher(FolderWatcher):
    """A watcher that says when it has looked at a written file and seen `size` bytes."""

    def __init__(self, *args, size: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.size = size
        self.looked = threading.Event()

    def _ready(self) -> bool:
        ready = super()._ready()
        if self.size in self._pending.values():
            self.looked.set()
        return ready


def test_a_file_still_growing_is_indexed_only_once_complete(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    seen: queue.Queue[int] = queue.Queue()
    growing = photos / "copying.jpg"
    update = lambda: seen.put(growing.stat().st_size)  # noqa: E731
    watcher = LookingWatcher([str(photos)], update, stable_seconds=0.1, size=1002)
    watcher.start()
    try:
        with open(growing, "wb") as handle:
            handle.write(b"\xff\xd8" + b"\0" * 1000)
            handle.flush()
            assert watcher.looked.wait(WAIT)  # the watcher saw the first part: it must wait for the rest
            handle.write(b"\0" * 5000)
        assert seen.get(timeout=WAIT) == 6002
    finally:
        watcher.stop()


@pytest.mark.slow
def test_a_failed_update_is_reported_and_the_next_change_runs_again(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    errors: queue.Queue[Exception] = queue.Queue()
    calls: queue.Queue[int] = queue.Queue()
    count = iter(range(1, 100))

    def update() -> None:
        number = next(count)
        calls.put(number)
        if number == 1:
            raise OSError("disk unplugged")

    watcher = FolderWatcher([str(photos)], update, on_error=errors.put, stable_seconds=0.1)
    watcher.start()
    try:
        picture(photos / "a.png", (1, 2, 3))
        assert calls.get(timeout=WAIT) == 1
        assert str(errors.get(timeout=WAIT)) == "disk unplugged"
        picture(photos / "b.png", (4, 5, 6))
        assert calls.get(timeout=WAIT) == 2
    finally:
        watcher.stop()


def wait_for(runs: queue.Queue, done) -> None:
    """Waits for an update after which the index holds what `done` checks."""
    while not done(runs.get(timeout=WAIT)):
        pass


@pytest.mark.slow  # starts a server process
def test_serve_with_watch_serves_a_new_photo_without_a_reindex_request(tmp_path, tiny_embedder):
    import time

    import httpx
    from service_helpers import start_server_thread

    from viewfinder.serve.app import create_app

    photos, index = tmp_path / "photos", tmp_path / "index"
    picture(photos / "first.png", (200, 0, 0))
    run_index(index, [str(photos)], embedder=tiny_embedder, model="test:tiny")
    app = create_app(index, device="cpu", watch=True, poll_seconds=0.2)
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/healthz").json()["images"] == 1
        picture(photos / "second.png", (0, 0, 200))
        deadline = time.monotonic() + WAIT
        while client.get("/healthz").json()["images"] != 2:
            assert time.monotonic() < deadline, "the new photo was never served"
            time.sleep(0.1)  # polling the server's answer, the only view a client has
