"""Helpers for the HTTP service tests: real servers on loopback (a `viewfinder serve` process or uvicorn on a
thread) and crafted images."""

from __future__ import annotations

import queue
import re
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli_helpers import cli_command, cli_env
from PIL import Image

API_TOKEN = "search-token-for-tests"
ADMIN_TOKEN = "admin-token-for-tests"
SERVER_SETTINGS = (
    "VIEWFINDER_API_TOKEN",
    "VIEWFINDER_ADMIN_TOKEN",
    "VIEWFINDER_CORS_ORIGINS",
    "VIEWFINDER_ALLOWED_HOSTS",
)


@contextmanager
def start_server_process(
    index: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> Iterator[str]:
    """Runs `viewfinder serve --port 0` and yields its URL once it prints the ready line; stops it after."""
    environment = {key: value for key, value in cli_env().items() if key not in SERVER_SETTINGS}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            cli_command("serve", "--index", index, "--port", "0", *args),
            env={**environment, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
            log.seek(0)
            assert line is not None, f"the server exited before it was ready:\n{log.read()}"
            yield re.search(r"http://\S+", line).group(0)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # threads stuck in a request (a regression) block a clean exit
                process.kill()
                process.wait(timeout=30)


@contextmanager
def start_server_thread(app, timeout: float = 60) -> Iterator[str]:
    """Serves an ASGI app with uvicorn on a thread, on a free loopback port; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout)


def wait_for(condition, timeout: float = 60, what: str = "the condition") -> None:
    """Polls `condition` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def exif_dated_jpeg(path: Path, taken: str, colour: tuple[int, int, int]) -> Path:
    """A small JPEG whose EXIF DateTime is `taken` ('YYYY:MM:DD HH:MM:SS')."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0132] = taken
    Image.new("RGB", (64, 48), colour).save(path, exif=exif)
    return path


def decompression_bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels: a decompression bomb to a naive decoder."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
