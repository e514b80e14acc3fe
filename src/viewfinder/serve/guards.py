"""What a request must pass before a route runs: the Host header, the API and admin tokens, the body's size and
media type."""

import hmac
import ipaddress
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import unquote, urlsplit

from fastapi import Cookie, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viewfinder.serve.errors import error_response

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]
# The web UI keeps the search token in this cookie (SameSite=Strict), since <img> requests cannot send headers.
TOKEN_COOKIE = "viewfinder_token"
TokenCookie = Annotated[str | None, Cookie(alias=TOKEN_COOKIE, include_in_schema=False)]


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class HostGuard:
    """Refuses with 400 a request whose Host header names a host not allowed (any port is fine).

    Without a token, a web page could read the library through a visitor's browser by pointing its own
    domain at this server (DNS rebinding); the browser then sends that domain as Host, which is refused here.
    `allowed` holds host names or addresses ("*" allows every host); `any_ip` allows every IP address too,
    which no rebinding attack can send, for a server reached at its LAN address.
    """

    def __init__(self, app: ASGIApp, allowed: Sequence[str], any_ip: bool = False) -> None:
        self.app = app
        self.allow_all = "*" in allowed
        self.allowed = {_host_name(host) for host in allowed}
        self.any_ip = any_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.allow_all:
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = _host_name(header)
            if not (name in self.allowed or (self.any_ip and _is_ip(name))):
                shown = header[:100] or "(none)"
                message = (
                    f"This server does not answer to the host {shown!r}; start it with --allowed-host NAME"
                    " (or VIEWFINDER_ALLOWED_HOSTS) to allow a name it is reached by."
                )
                await error_response(400, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Methods a web page of any site may have a browser send without asking first (a form's POST among them).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class OriginGuard:
    """Refuses with 403 a request that is not a read (an upload, a search, an admin job) sent by a web page of
    another site: its Origin header names another host than its Host header, and no CORS origin allowed.

    A multipart POST needs no CORS preflight, so without this any page a user visits could make the browser
    upload images to a server on their loopback with no token: decoding costs memory and time. Requests
    without an Origin header (scripts, curl, the CLI) are not a browser's and pass.
    """

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.allow_all = "*" in allowed_origins
        self.allowed = {origin.lower().rstrip("/") for origin in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and not self.allow_all:
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1").strip().lower().rstrip("/")
            host = headers.get(b"host", b"").decode("latin-1").strip().lower()
            if origin and origin not in self.allowed and not _same_host(origin, host):
                message = (
                    f"A web page of another site ({origin[:100]}) may not send {scope['method']} requests here;"
                    " start the server with --cors-origin ORIGIN to allow one."
                )
                await error_response(403, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _same_host(origin: str, host: str) -> bool:
    """Whether an Origin ('https://photos.example') names the host and port of a Host header; an opaque
    origin ('null', from a sandbox or a file) names none."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    default = _DEFAULT_PORTS[parts.scheme]
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = name if port is None or str(port) == default else f"{name}:{port}"
    return host.removesuffix(f":{default}") == netloc


def _host_name(header: str) -> str:
    """The host of a Host header without its port, lower case: '[::1]:8000' -> '::1' ('' when malformed)."""
    text = header.strip().lower()
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        return address if bracket and (rest == "" or rest.startswith(":")) else ""
    if text.count(":") > 1:
        return text  # a bare IPv6 address, as given in an allow-list
    return text.partition(":")[0].rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class BodyLimit:
    """Refuses request bodies over a size limit with 413, by Content-Length before reading, else while reading."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        message = f"The request body is larger than the limit of {_size(limit)}."
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await error_response(413, message)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            item = await receive()
            received += len(item.get("body", b""))
            if received > limit:
                raise HTTPException(413, message)  # reaches the route's error handling like any bad body
            return item

        await self.app(scope, limited, send)


# The guards below are coroutines, though none waits: FastAPI runs a plain function on its thread pool, a hop
# from the event loop and back before the route's own (a search paid two, or three with a token, instead of one).


def api_token_guard(api_token: str | None) -> list:
    """The dependencies that guard a search route: none without a token, else the header or the UI's cookie."""

    async def require_api_token(credentials: Credentials, cookie: TokenCookie = None) -> None:
        offered = [credentials.credentials if credentials else None, unquote(cookie) if cookie else None]
        if api_token is not None and not any(_token_matches(token, api_token) for token in offered):
            raise HTTPException(401, "This server needs a token: send Authorization: Bearer <token>.", _CHALLENGE)

    return [Depends(require_api_token)] if api_token is not None else []


def admin_token_guard(admin_token: str | None) -> list:
    """The dependencies that guard an admin route: the admin token in the header. No credential is a 401, as
    everywhere; a credential while no admin token is set is a 403 (no credential could do)."""

    async def require_admin_token(credentials: Credentials) -> None:
        disabled = "Admin routes are disabled; start the server with VIEWFINDER_ADMIN_TOKEN set."
        if credentials is None:
            message = "Admin routes need Authorization: Bearer <VIEWFINDER_ADMIN_TOKEN>."
            raise HTTPException(401, f"{message} {disabled}" if admin_token is None else message, _CHALLENGE)
        if admin_token is None:
            raise HTTPException(403, disabled)
        if not _token_matches(credentials.credentials, admin_token):
            raise HTTPException(401, "Admin routes need Authorization: Bearer <VIEWFINDER_ADMIN_TOKEN>.", _CHALLENGE)

    return [Depends(require_admin_token)]


def _token_matches(offered: str | None, token: str) -> bool:
    # compare_digest takes the same time wherever the strings differ; bytes, since it refuses non-ASCII str.
    return offered is not None and hmac.compare_digest(offered.encode(), token.encode())


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request) -> None:
    if _media_type(request) != "application/json":
        raise HTTPException(415, "Send the search as JSON, with Content-Type: application/json.")


async def multipart_body(request: Request) -> None:
    if _media_type(request) != "multipart/form-data":
        raise HTTPException(415, "Upload the image as multipart/form-data, in a file field named image.")


def _size(limit: int) -> str:
    return f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit / 2**10:g} KB"
