"""Display renditions: a JPEG of an indexed image for formats browsers cannot show (TIFF, HEIF/HEIC).

`GET /images/{id}` keeps serving the original bytes; `GET /renditions/{id}` serves the image decoded by the
safe decoder (pixel and byte limits, EXIF orientation applied), its longest side at most RENDITION_SIDE,
re-encoded as JPEG and cached in the index directory's `renditions/` like thumbnails. Search results and
`/images/{id}/meta` carry `display_url`: the rendition for such formats, else the original.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from viewfinder.images.decode import DecodeError
from viewfinder.serve.live import LiveIndex
from viewfinder.serve.schemas import error_responses
from viewfinder.sources import OriginalChangedError
from viewfinder.store.thumbnails import etag_of, thumbnail

RENDITION_SIDE = 2048
FOLDER = "renditions"
CACHE_CONTROL = "private, max-age=3600"


def rendition_routes(live: LiveIndex, guarded: list) -> APIRouter:
    """GET /renditions/{id}."""
    router = APIRouter()

    @router.get(
        "/renditions/{image_id}",
        dependencies=guarded,
        responses={
            **error_responses(401, 404),
            200: {"content": {"image/jpeg": {}}},
            304: {"description": "Not Modified"},
        },
        response_class=Response,
    )
    def rendition(image_id: str, request: Request) -> Response:
        """A JPEG of the image for display (longest side 2048 px), made once and cached; 304 on a matching ETag."""
        with live.engine() as engine:
            image = engine.image(image_id)
        headers = {"ETag": etag_of(image), "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
        tags = {tag.strip().removeprefix("W/") for tag in (request.headers.get("if-none-match") or "").split(",")}
        if headers["ETag"] in tags or "*" in tags:
            return Response(status_code=304, headers=headers)
        try:
            made = thumbnail(live.index_dir.path, image, RENDITION_SIDE, FOLDER)
        except (DecodeError, OriginalChangedError) as error:
            raise HTTPException(404, f"Image {image.id} can no longer be read ({error}); re-run indexing.") from None
        return Response(made.data, media_type="image/jpeg", headers=headers)

    return router
