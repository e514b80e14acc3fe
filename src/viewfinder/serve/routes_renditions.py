"""Display renditions: a JPEG of an indexed image for formats browsers cannot show (TIFF, HEIF/HEIC).

`GET /images/{id}` keeps serving the original bytes; `GET /renditions/{id}` serves the image decoded by the
safe decoder (pixel and byte limits, EXIF orientation applied), its longest side at most `app.index.RENDITION_SIDE`,
re-encoded as JPEG and cached in the index directory's `renditions/` like thumbnails. Search results and
`/images/{id}/meta` carry `display_url`: the rendition for such formats, else the original.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from viewfinder.app import LiveIndex
from viewfinder.serve.schemas import error_responses, etag_matches

CACHE_CONTROL = "private, max-age=3600"


def rendition_routes(live: LiveIndex, guarded: list) -> APIRouter:
    """GET /renditions/{id}."""
    router = APIRouter()

    @router.get(
        "/renditions/{image_id}",
        dependencies=guarded,
        responses={
            **error_responses(401, 404, 413, 503),
            200: {"content": {"image/jpeg": {}}},
            304: {"description": "Not Modified"},
        },
        response_class=Response,
    )
    def rendition(image_id: str, request: Request) -> Response:
        """A JPEG of the image for display (longest side 2048 px), made once and cached; 304 on a matching ETag."""
        with live.index() as index:
            etag = index.etag(image_id)
            headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
            if etag_matches(request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=headers)
            made = index.rendition(image_id)
        return Response(made.data, media_type="image/jpeg", headers=headers)

    return router
