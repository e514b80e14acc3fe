"""Image routes: the original bytes, cached thumbnails and the metadata of indexed images (never a path)."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, BinaryIO

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from viewfinder.app import LiveIndex
from viewfinder.app.index import THUMBNAIL_SIDES
from viewfinder.app.originals import Redirect
from viewfinder.serve.schemas import ImageOut, error_responses, etag_matches, image_json, offered_size, size_query
from viewfinder.settings import PRESIGN_TTL

THUMBNAIL_CACHE_CONTROL = "private, max-age=3600"
IMAGE_CACHE_CONTROL = "private, max-age=3600"


def image_routes(live: LiveIndex, guarded: list, presign_ttl: int = PRESIGN_TTL) -> APIRouter:
    """GET /images/{id}, /thumbnails/{id} and /images/{id}/meta; an image in S3 is a redirect to a presigned
    URL valid for `presign_ttl` seconds, so its bytes never pass through the service."""
    router = APIRouter()

    @router.get(
        "/images/{image_id}", dependencies=guarded, responses=error_responses(401, 404), response_class=FileResponse
    )
    def image_file(image_id: str) -> Response:
        """The original bytes of an indexed image (for one in S3, a 307 to a presigned URL)."""
        with live.index() as index:
            # Opened and checked here, so a file that is gone or is no longer the one indexed (a link to another
            # file, a FIFO) is a 404 before the response starts.
            original = index.original(image_id, presign_ttl)
        if isinstance(original, Redirect):
            return RedirectResponse(original.url, 307, headers={"Cache-Control": "no-store"})
        headers = {"Cache-Control": IMAGE_CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
        return OpenedFileResponse(
            original.handle,
            original.path,
            media_type=original.media_type,
            headers=headers,
            filename=original.file_name,
            content_disposition_type="inline",
        )

    @router.get(
        "/thumbnails/{image_id}",
        dependencies=guarded,
        responses={
            **error_responses(401, 404, 413, 422, 503),
            200: {"content": {"image/jpeg": {}}},
            304: {"description": "Not Modified"},
        },
        response_class=Response,
    )
    def thumbnail_file(
        image_id: str,
        request: Request,
        size: int = size_query(THUMBNAIL_SIDES, "768 for screens of two device pixels a CSS pixel"),
    ) -> Response:
        """A JPEG thumbnail (longest side `size`), made once and cached; answers 304 to a matching If-None-Match."""
        with live.index() as index:
            etag = index.etag(image_id)
            headers = {"ETag": etag, "Cache-Control": THUMBNAIL_CACHE_CONTROL}
            if etag_matches(request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=headers)
            made = index.thumbnail(image_id, offered_size(size, THUMBNAIL_SIDES))
        return Response(made.data, media_type="image/jpeg", headers=headers)

    @router.get(
        "/images/{image_id}/meta", response_model=ImageOut, dependencies=guarded, responses=error_responses(401, 404)
    )
    def image_meta(image_id: str) -> dict[str, Any]:
        """What the index knows about an image: the search result fields without rank and similarity, with the
        words read in it (`index --ocr`)."""
        with live.index() as index:
            return {**image_json(index.image(image_id)), "words": index.words(image_id)}

    return router


class OpenedFileResponse(FileResponse):
    """A FileResponse (ranges, validators) that sends the file already opened and checked, not whatever is at
    its path by the time the body is sent: the path may have been swapped for a link or a FIFO meanwhile."""

    def __init__(self, handle: BinaryIO, path: str, **kwargs: Any) -> None:
        super().__init__(path, stat_result=os.fstat(handle.fileno()), **kwargs)
        self.handle = handle

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # Overrides Starlette's (pinned) way of opening self.path, and closes the handle when the body is sent.
        self.handle.seek(0)
        file = anyio.wrap_file(self.handle)
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()
