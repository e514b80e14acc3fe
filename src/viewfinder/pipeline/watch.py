"""Watching source folders: file system events trigger an incremental run once the changed files are complete.

Events only say that something happened; the incremental run (`run_index`: scan, content hashes, embed
what is new) works out what. A written file is indexed once its size has stopped changing for
`STABLE_SECONDS`, so a photo still being copied is not read half-written. A periodic full run
(`reconcile_seconds`) catches what events miss (network shares, overflowed event queues). Object storage
sends no events: its sources are not watched, only brought up to date by that periodic run. A failed run is
reported and retried on the next event or reconcile; it never stops the watcher.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from viewfinder.errors import ViewfinderError, needs_extra
from viewfinder.settings import RECONCILE_SECONDS
from viewfinder.sources import IMAGE_SUFFIXES, source_for

if TYPE_CHECKING:  # watchdog is optional: imported when a watcher starts
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers.api import BaseObserver

STABLE_SECONDS = 0.5

log = logging.getLogger(__name__)


class FolderWatcher:
    """Calls `update()` after photos under the folder `roots` are added, changed, moved or deleted, and
    periodically; roots in object storage are not watched (`not_watched`), the periodic run covers them."""

    def __init__(
        self,
        roots: Sequence[str],
        update: Callable[[], None],
        on_error: Callable[[Exception], None] | None = None,
        reconcile_seconds: float = RECONCILE_SECONDS,
        stable_seconds: float = STABLE_SECONDS,
    ) -> None:
        sources = [source_for(root) for root in roots]
        self.roots = [source.root for source in sources if not source.remote]
        self.not_watched = [source.root for source in sources if source.remote]
        self.update = update
        self.on_error = on_error or (lambda error: log.warning("watch: update failed: %s", error))
        self.reconcile_seconds = reconcile_seconds
        self.stable_seconds = stable_seconds
        self._pending: dict[str, int] = {}  # written paths -> size at the last look (-1: not looked at yet)
        self._dirty = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    def not_watched_note(self) -> str:
        """One line saying which sources no event announces and when they are brought up to date."""
        return (
            f"{', '.join(self.not_watched)} not watched (object storage sends no change events); "
            f"brought up to date by the periodic reindex every {self.reconcile_seconds:g} s"
        )

    def start(self) -> None:
        """Starts the observer and the update thread."""
        with needs_extra("Watching folders"):
            from watchdog.observers import Observer
        self._observer = Observer()
        handler = _handler(self._changed)
        for root in self.roots:
            if not os.path.isdir(root):
                raise ViewfinderError(f"Source folder {root} does not exist or is not a folder.")
            self._observer.schedule(handler, root, recursive=True)
        self._observer.start()
        self._thread = threading.Thread(target=self._loop, name="viewfinder-folder-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._thread is not None:
            self._thread.join()

    def _changed(self, path: str, written: bool) -> None:
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES and written:
            return
        with self._lock:
            self._dirty = True
            if written:
                self._pending[path] = -1
        self._wake.set()

    def _loop(self) -> None:
        next_reconcile = time.monotonic() + self.reconcile_seconds
        while not self._stop.is_set():
            self._wake.wait(timeout=max(0.0, min(self.stable_seconds, next_reconcile - time.monotonic())))
            self._wake.clear()
            if self._stop.is_set():
                return
            due = time.monotonic() >= next_reconcile
            if not due and not self._ready():
                continue
            with self._lock:
                self._dirty = False
            try:
                self.update()
            except Exception as error:  # reported, and retried on the next event or reconcile
                self.on_error(error)
            if due:
                next_reconcile = time.monotonic() + self.reconcile_seconds

    def _ready(self) -> bool:
        """Whether something changed and every written file has kept its size since the last look."""
        with self._lock:
            if not self._dirty:
                return False
            growing = False
            for path, last in list(self._pending.items()):
                try:
                    size = os.stat(path).st_size
                except OSError:  # gone again: the run will see it is gone
                    del self._pending[path]
                    continue
                if size != last:
                    self._pending[path] = size
                    growing = True
            if growing:
                return False
            self._pending.clear()
            return True


def _handler(changed: Callable[[str, bool], None]) -> FileSystemEventHandler:
    """A watchdog handler that forwards events as (path, whether bytes were written) to the watcher."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def dispatch(self, event: FileSystemEvent) -> None:
            kind = event.event_type
            if kind in ("opened", "closed_no_write"):
                return
            if kind == "moved":
                changed(os.fsdecode(event.src_path), False)
                changed(os.fsdecode(event.dest_path), not event.is_directory)
            elif kind == "deleted" or event.is_directory:
                changed(os.fsdecode(event.src_path), False)
            else:  # created, modified, closed
                changed(os.fsdecode(event.src_path), True)

    return Handler()
