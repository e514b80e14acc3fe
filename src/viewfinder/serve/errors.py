"""Every failure becomes {"success": false, "error": "<one sentence>"}; only bugs are 5xx."""

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from viewfinder.errors import BusyError, TooLargeError, UnknownImageError, ViewfinderError

log = logging.getLogger(__name__)

# What a 503 (the server at a limit for the moment) asks a client to wait before retrying.
RETRY_AFTER_SECONDS = 5


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """Installs the handlers that turn every exception into the API's error shape."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return error_response(status, message)

    @app.exception_handler(HTTPException)
    async def httperror_response(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail
        if message == HTTPStatus(exc.status_code).phrase:  # raised by the framework, not by a route
            if exc.status_code == 404:
                message = f"No route {request.url.path}; the API is described at /openapi.json."
            elif exc.status_code == 405:
                message = f"{request.method} is not allowed on {request.url.path}."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
        return error_response(exc.status_code, str(message), headers)

    @app.exception_handler(ViewfinderError)
    async def libraryerror_response(request: Request, exc: ViewfinderError) -> JSONResponse:
        if isinstance(exc, BusyError):
            return error_response(503, str(exc), {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if isinstance(exc, TooLargeError):
            return error_response(413, str(exc))
        return error_response(404 if isinstance(exc, UnknownImageError) else 400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, f"Internal error ({type(exc).__name__}); please report it with the server's log.")


def _allowed_methods(request: Request, given: str) -> str:
    """Every method the API document gives this path (Starlette's 405 names only the first route's, and GET
    and POST /admin/reindex are two routes); `given` for a path the document leaves out (the web UI)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods)) if methods else given


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """One readable sentence (and status) for pydantic's list of problems."""
    errors = exc.errors()
    first = errors[0]
    more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
    if first["type"] == "json_invalid":
        reason = first.get("ctx", {}).get("error", "JSON decode error")
        return 400, f"The request body is not valid JSON: {reason} at character {first['loc'][-1]}."
    field = ".".join(str(part) for part in first["loc"][1:])
    if first["type"] == "missing":
        return 422, (f"The field {field} is required" if field else "The request needs a JSON object body") + more + "."
    if first["type"] == "extra_forbidden":
        return 422, f"Unknown field {first['loc'][-1]!r}; /openapi.json lists the fields{more}."
    if not field:
        return 422, f"The request body must be a JSON object{more}."
    message = str(first["msg"])
    return 422, f"Invalid {field}: {message[:1].lower()}{message[1:]}{more}."
