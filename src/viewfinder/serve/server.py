"""Runs the app under uvicorn on a socket opened before the model loads, and says when it is ready."""

import ipaddress
import logging
import socket
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from viewfinder import settings
from viewfinder.app.serving import one_thread_per_query, text_on_free_cores
from viewfinder.errors import ViewfinderError
from viewfinder.serve.app import create_app
from viewfinder.serve.guards import LOOPBACK_HOSTS


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
    host: str = settings.HOST,
    port: int = settings.PORT,
    device: str = "auto",
    sources: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
    runtime: str = "auto",
    query_model: str | None = None,
    presign_ttl: int = settings.PRESIGN_TTL,
    min_relevance: float | None = None,
    allowed_hosts: Sequence[str] = (),
    watch: bool = False,
    review_folder: str | None = None,
) -> None:
    """Runs the service until interrupted; tokens, CORS origins and host names may come from the environment.

    The settings api_token ($VIEWFINDER_API_TOKEN) protects every route but the UI and /healthz, admin_token
    enables /admin; cors_origins and allowed_hosts (comma-separated variables) are read when no --cors-origin
    or --allowed-host is given. Requests must name a loopback host, an allowed host, or, when the server
    listens beyond loopback, any IP address ("*" allows every host).
    """
    cors_origins = cors_origins or settings.value("cors_origins")
    allowed_hosts = allowed_hosts or settings.value("allowed_hosts")
    api_token, admin_token = settings.value("api_token"), settings.value("admin_token")
    listener = _listen(host, port)  # before the slow model load, so a taken port fails at once
    one_thread_per_query()
    text_on_free_cores()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger("viewfinder").setLevel(logging.INFO)
    logging.getLogger("python_multipart").setLevel(logging.ERROR)  # a warning per malformed upload is noise
    app = create_app(
        index_path,
        device=device,
        sources=sources,
        cors_origins=cors_origins,
        runtime=runtime,
        query_model=query_model,
        min_relevance=min_relevance,
        watch=watch,
        review_folder=review_folder,
        warm_thumbnails=settings.value("warm_thumbnails"),
        presign_ttl=presign_ttl,
        api_token=api_token,
        admin_token=admin_token,
        allowed_hosts=[*LOOPBACK_HOSTS, *allowed_hosts],
        decode_memory_mb=settings.value("decode_memory"),
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
