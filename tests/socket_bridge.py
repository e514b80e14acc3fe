"""Byte-for-byte bridges between a TCP port and a Unix socket, to reach a server kept in its own network
namespace: the namespace holds only its loopback, so whatever the server binds stays unreachable from any
network, and the tests reach it through a socket file on the shared file system."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

CHUNK = 65536


def bridge(listener: socket.socket, connect: Callable[[], socket.socket]) -> threading.Thread:
    """Accepts on `listener` until it is closed; each connection is joined to a fresh `connect()` both ways."""

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                upstream = connect()
            except OSError:
                client.close()
                continue
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return thread


def tcp_to_unix(port: int, path: str) -> socket.socket:
    """Listens on 127.0.0.1:`port` and bridges each connection to the Unix socket at `path`; close to stop."""
    listener = socket.create_server(("127.0.0.1", port))
    bridge(listener, lambda: _unix_client(path))
    return listener


def unix_to_tcp(path: str, port: int) -> socket.socket:
    """Listens on the Unix socket `path` and bridges each connection to 127.0.0.1:`port`; close to stop."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    bridge(listener, lambda: socket.create_connection(("127.0.0.1", port)))
    return listener


def _unix_client(path: str) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    return client


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copies until either side closes, then shuts the other's writing half so its peer sees the end."""
    with contextlib.suppress(OSError):
        while data := source.recv(CHUNK):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
