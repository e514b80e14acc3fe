"""Running a tower on ONNX Runtime, and a text tower's sessions: one thread, and two threads for a query that
finds a second core free.

A query's text is one short sequence, too small for a second thread to pay where another process holds the
other core: ORT splits each product between its threads, and the half given to a thread that is not running
waits for it (2 threads were 1.7x slower than one beside one busy core, BENCHMARKS.md). On a free core the
same split nearly halves the encoding, the largest part of a search (ViT-B/32's int8 tower: 9.3 -> 5.9 ms).
So a server keeps both sessions and picks one per query from what the kernel says is running at that moment.

The two-thread session's second thread spins between products instead of sleeping (a sleeping thread takes
longer to wake than a product takes), for at most SPIN_US after the last one: long enough to outlast the gaps
inside a query (a 1 ms spin measured slower than one thread), short enough that it is not still spinning,
taking a core, long after the query.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SPIN_US = 4000
LOADAVG = Path("/proc/loadavg")


def run_tower(session: Any, batch: np.ndarray) -> np.ndarray:
    """Runs a tower on a batch, whatever its input is named and typed; a tower made for a batch of one (as the
    hub's ONNX models are) takes the rows one at a time."""
    spec = session.get_inputs()[0]
    batch = batch.astype(INPUT_TYPES.get(spec.type, batch.dtype), copy=False)
    if spec.shape[0] == 1 and len(batch) != 1:
        return np.concatenate([session.run(None, {spec.name: batch[row : row + 1]})[0] for row in range(len(batch))])
    return session.run(None, {spec.name: batch})[0]


# ONNX's names of the input types a tower may take, as numpy types.
INPUT_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def text_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session of a text tower on `threads` intra-op threads (onnxruntime is untyped)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if threads == 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    else:
        options.add_session_config_entry("session.intra_op.spin_duration_us", str(SPIN_US))
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def free_cores(loadavg: Path = LOADAVG) -> int:
    """The cores of this process that no task but the caller wants at this instant: Linux counts the runnable
    tasks in /proc/loadavg (its fourth field, "running/all"), the caller among them. 0 where it cannot tell."""
    try:
        running = int(loadavg.read_bytes().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, usable_cores() - running)


class TextSessions:
    """A text tower's one-thread session, and its two-thread one once `add_pair` made it; `run` picks one."""

    def __init__(self, path: Path, free: Callable[[], int] = free_cores) -> None:
        self.path = path
        self.single = text_session(path, 1)
        self.pair: Any = None
        self._free = free
        self._lock = threading.Lock()
        self._pair_lock = threading.Lock()  # one maker of the pair, without holding up the queries
        self._running = 0  # queries of this tower running now, in this process
        self._pair_spins_until = 0.0  # until when the pair's second thread may still be spinning (monotonic s)

    def add_pair(self) -> None:
        """Makes the two-thread session, where this process may run on two cores (a server, before its first
        query: a one-off search would spend longer making it than it saves)."""
        with self._pair_lock:
            if self.pair is None and usable_cores() >= 2:
                self.pair = text_session(self.path, 2)

    def run(self, tokens: np.ndarray) -> np.ndarray:
        with self._lock:
            session = self.single
            if self.pair is not None and self._running == 0:
                # The pair's own second thread, spinning after the last query, is no other task.
                own_spinner = 1 if time.monotonic() < self._pair_spins_until else 0
                if self._free() + own_spinner >= 1:
                    session = self.pair
            self._running += 1
        try:
            return run_tower(session, tokens)
        finally:
            with self._lock:
                self._running -= 1
                if session is self.pair:
                    self._pair_spins_until = time.monotonic() + SPIN_US / 1e6
