"""A text query's second thread: a server's query runs the text tower on two threads when a core is free for it.

A text query is one short sequence, and one thread encodes it in a time set mostly by reading the tower's
weights (38 MB for ViT-B/32 in int8) from memory: a second core reading half of them takes a third off
(BENCHMARKS.md, "HTTP service"). A second thread that has to wait for a core, though, makes every product wait
for it: with the other core busy the pair took twice one thread's time. So a server keeps the tower in two
sessions, one thread and two, and lends the pair to one query at a time, when the kernel counts fewer tasks
running on the machine than the process has cores (read again for up to 0.3 ms while it says no: a task seen
running may be about to sleep). Where the count cannot be read, no core counts as free.

Only a long-running server turns this on (`use_free_cores`, by `viewfinder serve`): a one-off search would
spend more loading the second session than it saves, and a Lambda cold start loads only what its first
answer needs.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOADAVG = Path("/proc/loadavg")
THREADS = 2
# How long the second thread waits for the next product spinning before it sleeps, in microseconds: long enough
# to span the gaps between a query's products (woken from sleep, each product waits for it), short enough to
# give the core back soon after the query, when the rest of the request and its client may want it.
SPIN_US = 500
# A task counted running may be one about to sleep (another server process that has just sent its answer): the
# count is read again (~1 us a read) for this long before a query settles for one thread. In a round robin of
# two servers a third of the first reads counted one task too many, and nearly none a read 0.2 ms later.
RECHECK_SECONDS = 0.0003

_free_cores_wanted = False


def use_free_cores() -> None:
    """Lets text queries of this process take a second thread when a core is free: for a long-running server,
    before its model loads."""
    global _free_cores_wanted
    _free_cores_wanted = True


def wanted() -> bool:
    """Whether a text tower loaded now should keep a two-thread session too: use_free_cores, two cores, and a
    kernel that counts its running tasks (Linux; elsewhere the second session would never be lent)."""
    return _free_cores_wanted and usable_cores() >= THREADS and LOADAVG.is_file()


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def running_tasks(loadavg: int) -> int | None:
    """The tasks running on the machine at this instant, the calling thread counted, from the open /proc/loadavg
    (its fourth field is running/existing tasks); None where it cannot be read."""
    try:
        return int(os.pread(loadavg, 64, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None


class SpareThreadSession:
    """A text tower's two-thread session, lent to one query at a time, and only while a core is free."""

    def __init__(self, session: Any, cores: int | None = None) -> None:
        self.session = session
        self.cores = cores if cores is not None else usable_cores()
        self._lent = threading.Lock()
        try:  # kept open: a read is then one system call, not three; closed with this object (a model replaced)
            self._loadavg: int | None = os.open(LOADAVG, os.O_RDONLY | os.O_CLOEXEC)
            weakref.finalize(self, os.close, self._loadavg)
        except OSError:
            self._loadavg = None

    @contextmanager
    def lend(self) -> Iterator[Any | None]:
        """The session, or None where another query holds it or no core is free."""
        if not self._lent.acquire(blocking=False):
            yield None
            return
        try:
            yield self.session if self._core_free() else None
        finally:
            self._lent.release()

    def _core_free(self) -> bool:
        if self._loadavg is None:
            return False
        until = time.perf_counter() + RECHECK_SECONDS
        while True:
            running = running_tasks(self._loadavg)
            if running is None:
                return False
            if running < self.cores:
                return True
            if time.perf_counter() >= until:
                return False
