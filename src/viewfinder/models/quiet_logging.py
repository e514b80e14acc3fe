"""A guard around third-party calls that log at import or while they run (open_clip, ONNX Runtime's quantisers)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_logging() -> Iterator[None]:
    """Their log lines silenced, and the root logger as it was before them.

    Their advice (random init, retries, pre-processing, opsets) is not for a user; our errors say what to do.
    Logging's module functions (`logging.info`, as open_clip's create_model and the dynamic quantiser call) and
    the block quantiser's module, when imported, configure the root logger (basicConfig): left so, it would
    print every later log line of the process on stderr.
    """
    root = logging.getLogger()
    handlers, level, disabled = root.handlers[:], root.level, logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(disabled)
        root.handlers[:], root.level = handlers, level
