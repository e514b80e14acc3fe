"""What a request must pass before a route runs: the API and admin tokens, the body's size and media type."""

import hmac
from typing import Annotated
from urllib.parse import unquote

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


def api_token_guard(api_token: str | None) -> list:
    """The dependencies that guard a search route: none without a token, else the header or the UI's cookie."""

    def require_api_token(credentials: Credentials, cookie: TokenCookie = None) -> None:
        offered = [credentials.credentials if credentials else None, unquote(cookie) if cookie else None]
        if api_token is not None and not any(_token_matches(token, api_token) for token in offered):
            raise HTTPException(401, "This server needs a token: send Authorization: Bearer <token>.", _CHALLENGE)

    return [Depends(require_api_token)] if api_token is not None else []


def admin_token_guard(admin_token: str | None) -> list:
    """The dependencies that guard an admin route: the admin token in the header, or 403 when none is set."""

    def require_admin_token(credentials: Credentials) -> None:
        if admin_token is None:
            raise HTTPException(403, "Admin routes are disabled; start the server with VIEWFINDER_ADMIN_TOKEN set.")
        if not _token_matches(credentials.credentials if credentials else None, admin_token):
            raise HTTPException(401, "Admin routes need Authorization: Bearer <VIEWFINDER_ADMIN_TOKEN>.", _CHALLENGE)

    return [Depends(require_admin_token)]


def _token_matches(offered: str | None, token: str) -> bool:
    # compare_digest takes the same time wherever the strings differ; bytes, since it refuses non-ASCII str.
    return offered is not None and hmac.compare_digest(offered.encode(), token.encode())


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def json_body(request: Request) -> None:
    if _media_type(request) != "application/json":
        raise HTTPException(415, "Send the search as JSON, with Content-Type: application/json.")


def multipart_body(request: Request) -> None:
    if _media_type(request) != "multipart/form-data":
        raise HTTPException(415, "Upload the image as multipart/form-data, in a file field named image.")


def _size(limit: int) -> str:
    return f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit / 2**10:g} KB"
