"""EXIF orientation: how a stored image is turned upright, and where a box of the upright image lies in the
stored one (so decoding can read only the part a centre crop keeps). The same table as ImageOps.exif_transpose,
which is not used because it re-reads EXIF without the guard against malformed data that exif.exif_of has."""

from __future__ import annotations

from PIL import Image

TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_AXES = frozenset({5, 6, 7, 8})
# Where each transposition takes a point (x, y) of a w x h image; pixel edges, so no off-by-one.
TRANSPOSED_POINT = {
    Image.Transpose.FLIP_LEFT_RIGHT: lambda x, y, w, h: (w - x, y),
    Image.Transpose.FLIP_TOP_BOTTOM: lambda x, y, w, h: (x, h - y),
    Image.Transpose.ROTATE_180: lambda x, y, w, h: (w - x, h - y),
    Image.Transpose.TRANSPOSE: lambda x, y, w, h: (y, x),
    Image.Transpose.TRANSVERSE: lambda x, y, w, h: (h - y, w - x),
    Image.Transpose.ROTATE_90: lambda x, y, w, h: (y, w - x),
    Image.Transpose.ROTATE_270: lambda x, y, w, h: (h - y, x),
}
INVERSE = {
    Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
}


def _method(orientation: object) -> Image.Transpose | None:
    return TRANSPOSE.get(orientation) if isinstance(orientation, int) else None


def upright(img: Image.Image, orientation: object) -> Image.Image:
    """Turns an image upright according to its EXIF orientation; junk values leave it as it is."""
    method = _method(orientation)
    return img if method is None else img.transpose(method)


def swaps_axes(orientation: object) -> bool:
    """Whether turning the image upright swaps its width and height."""
    return orientation in SWAPS_AXES


def stored_box(
    box: tuple[int, int, int, int], upright_size: tuple[int, int], orientation: object
) -> tuple[int, int, int, int]:
    """A box (left, top, right, bottom) of the upright image, in the stored image's pixels: the stored image is
    the upright one turned back by the inverse transposition."""
    method = _method(orientation)
    if method is None:
        return box
    width, height = upright_size
    inverse = INVERSE.get(method, method)
    (x0, y0), (x1, y1) = (TRANSPOSED_POINT[inverse](x, y, width, height) for x, y in (box[:2], box[2:]))
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
