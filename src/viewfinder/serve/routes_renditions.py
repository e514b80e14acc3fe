"""Screen renditions: a JPEG of an indexed image sized for a screen, and the display picture of formats
browsers cannot show (TIFF, HEIF/HEIC).

`GET /images/{id}` keeps serving the original bytes; `GET /renditions/{id}` serves the image decoded by the
safe decoder (pixel and byte limits, EXIF orientation applied), its longest side at most `size` (1080, for a
phone, or 2048, the default), re-encoded as JPEG and cached in the index directory like thumbnails. Search
results and `/images/{id}/meta` carry `display_url`: the rendition for such formats, else the original; a page
shows large photos of any format through the rendition that fits its screen. A photo in object storage has
only the renditions made at index time (the service never fetches its original): one without is redirected
to its original.
"""

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from viewfinder.app import LiveIndex
from viewfinder.app.index import RENDITION_SIDES
from viewfinder.serve.schemas import error_responses, etag_matches, offered_size, size_query

CACHE_CONTROL = "private, max-age=3600"


def rendition_routes(live: LiveIndex, guarded: list) -> APIRouter:
    """GET /renditions/{id}."""
    router = APIRouter()

    @router.get(
        "/renditions/{image_id}",
        dependencies=guarded,
        responses={
            **error_responses(401, 404, 413, 422, 503),
            200: {"content": {"image/jpeg": {}}},
            307: {"description": "a photo in object storage without a rendition: its original"},
            304: {"description": "Not Modified"},
        },
        response_class=Response,
    )
    def rendition(
        image_id: str, request: Request, size: int = size_query(RENDITION_SIDES, "2048 for a desktop, 1080 for a phone")
    ) -> Response:
        """A JPEG of the image for a screen (longest side `size`), made once and cached; 304 on a matching ETag."""
        with live.index() as index:
            etag = index.etag(image_id)
            headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
            if etag_matches(request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=headers)
            side = offered_size(size, RENDITION_SIDES)
            if not index.renders(image_id):
                return RedirectResponse(f"/images/{quote(image_id)}", 307, headers={"Cache-Control": "no-store"})
            made = index.rendition(image_id, side)
        return Response(made.data, media_type="image/jpeg", headers=headers)

    return router
