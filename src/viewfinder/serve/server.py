"""Runs the app under uvicorn on a socket opened before the model loads, and says when it is ready."""

import ipaddress
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from viewfinder.app.serving import one_thread_per_query
from viewfinder.errors import ViewfinderError
from viewfinder.serve.app import create_app
from viewfinder.serve.guards import LOOPBACK_HOSTS
from viewfinder.serve.routes_images import PRESIGN_TTL


class _Server(uvicorn.Server):
    """uvicorn, printing one line with the URL once the socket is open and the app is ready."""

    def __init__(self, config: uvicorn.Config, ready_line: str) -> None:
        super().__init__(config)
        self.ready_line = ready_line

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
            print(self.ready_line.format(url=url), flush=True)


def serve(
    index_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "auto",
    sources: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
    runtime: str = "auto",
    query_model: str | None = None,
    presign_ttl: int = PRESIGN_TTL,
    min_relevance: float | None = None,
    allowed_hosts: Sequence[str] = (),
    watch: bool = False,
) -> None:
    """Runs the service until interrupted; tokens, CORS origins and host names may come from the environment.

    VIEWFINDER_API_TOKEN protects every route but the UI and /healthz; VIEWFINDER_ADMIN_TOKEN enables
    /admin; VIEWFINDER_CORS_ORIGINS and VIEWFINDER_ALLOWED_HOSTS (comma-separated) are used when no
    --cors-origin or --allowed-host is given. Requests must name a loopback host, an allowed host, or, when
    the server listens beyond loopback, any IP address ("*" allows every host).
    """
    listener = _listen(host, port)  # before the slow model load, so a taken port fails at once
    one_thread_per_query()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger("viewfinder").setLevel(logging.INFO)
    logging.getLogger("python_multipart").setLevel(logging.ERROR)  # a warning per malformed upload is noise
    if not cors_origins:
        cors_origins = [o.strip() for o in os.environ.get("VIEWFINDER_CORS_ORIGINS", "").split(",") if o.strip()]
    if not allowed_hosts:
        allowed_hosts = [h.strip() for h in os.environ.get("VIEWFINDER_ALLOWED_HOSTS", "").split(",") if h.strip()]
    app = create_app(
        index_path,
        device=device,
        sources=sources,
        cors_origins=cors_origins,
        runtime=runtime,
        query_model=query_model,
        min_relevance=min_relevance,
        watch=watch,
        presign_ttl=presign_ttl,
        api_token=os.environ.get("VIEWFINDER_API_TOKEN") or None,
        admin_token=os.environ.get("VIEWFINDER_ADMIN_TOKEN") or None,
        allowed_hosts=[*LOOPBACK_HOSTS, *allowed_hosts],
        any_ip_host=not _is_loopback(listener),
    )
    with app.state.live.index() as index:
        images = index.vectors.count
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    _Server(config, f"Viewfinder is serving {images} images from {index_path} at {{url}}").run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port; ViewfinderError with the fix when the address is taken or invalid."""
    if not 0 <= port <= 65535:
        raise ViewfinderError(f"--port {port} is not a port number; use 1-65535, or 0 for a free one.")
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, protocol)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ViewfinderError(f"Cannot listen on {host}:{port} ({reason}); choose another --port or --host.") from None
    return listener


def _is_loopback(listener: socket.socket) -> bool:
    """Whether the socket only accepts connections from this machine (so only loopback names reach it)."""
    address = listener.getsockname()[0]
    return ipaddress.ip_address(address.split("%")[0]).is_loopback
