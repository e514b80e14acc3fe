"""Safe decode: turns an image file or upload into the pixels open_clip's eval transform would see (to the bit
but for large downscales: JPEG's DCT scaling, REDUCING_GAP). Runs in spawned decode workers, so it imports only
numpy and Pillow (pyspng on first PNG, pillow_heif on first HEIF file), never torch. Every way a file can fail
to be a usable image surfaces as a DecodeError with a one-line reason.
"""

import functools
import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageMode, UnidentifiedImageError

from viewfinder.images.exif import MALFORMED, ORIENTATION, exif_of, field_count, taken_at
from viewfinder.images.gps import gps_of
from viewfinder.images.orientation import stored_box, swaps_axes, upright
from viewfinder.images.png import spng_decode
from viewfinder.images.preprocess import RESAMPLE, PreprocessSpec
from viewfinder.settings import MAX_IMAGE_BYTES

MAX_PIXELS: int = 120_000_000
# No photo is a thousand times longer than wide; a 1x100000000 strip passes the pixel limit, but Pillow keeps
# a pointer per row and each conversion copies it, so it costs gigabytes.
MAX_ASPECT_RATIO: int = 1000

# Only these are tried, whatever a file is named: Pillow's other plugins (EPS runs Ghostscript, PSD, ICO, ...)
# are attack surface a photo library does not need. HEIF joins when a file looks like one.
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")

# What Pillow, its plugins and pillow_heif raise on data they cannot decode (RuntimeError: the AVIF and HEIF
# decoders, found by fuzzing).
_CORRUPT = MALFORMED


# A resized image at most this many model sides long is made whole and then cropped, which matches open_clip
# to the bit. A longer one (a 1x100000 strip) is resized only where the centre crop falls: making it whole, as
# open_clip would, takes gigabytes or overflows.
FULL_RESIZE_RATIO = 8
# A downscale by 4x or more first averages pixel boxes down to twice the output size (Pillow's reduce), then
# filters: a third of the full filter's CPU time, 0.2 levels of 255 apart on average (BENCHMARKS.md). Smaller
# ratios are resized as before, matching open_clip to the bit.
REDUCING_GAP = 2.0


# eq=False: the generated __eq__ and __hash__ would compare the pixel arrays, which numpy cannot do.
@dataclass(frozen=True, eq=False)
class DecodedImage:
    """One image ready for the model, with what the catalog records about the original."""

    pixels: np.ndarray
    width: int
    height: int
    format: str
    taken_at: str | None
    gps: tuple[float, float] | None = None  # (latitude, longitude) in degrees


class DecodeError(Exception):
    """A file that cannot be used as an image; str(e) is a one-line, human reason."""


class UnreadableError(DecodeError):
    """A file that could not be read at all (gone, not permitted): unlike bad data, this may pass by itself."""


def decode_image(path: str | os.PathLike, spec: PreprocessSpec) -> DecodedImage:
    """Decodes an image file into the model's input pixels; raises DecodeError."""
    return _decode(os.fsdecode(path), spec)


def decode_bytes(data: bytes, spec: PreprocessSpec) -> DecodedImage:
    """Decodes an uploaded image into the model's input pixels; raises DecodeError."""
    return _decode(data, spec)


def open_oriented(
    source: str | os.PathLike | bytes | BinaryIO, max_pixels: int = MAX_PIXELS, fit: int | None = None
) -> Image.Image:
    """Opens an image file, bytes or an open binary file, upright and RGB, for thumbnails; raises DecodeError.
    At full size, or as large as a copy `fit` px on its longer side needs: a JPEG is then decoded at a half, a
    quarter or an eighth of its size (its DCT scaling), for a fraction of a full decode's cost."""
    if isinstance(source, (str, os.PathLike)):
        source = os.fsdecode(source)
    with _opened(source, max_pixels) as img:
        if fit is not None:
            ratio = fit / max(img.size)
            img.draft(None, (max(1, round(img.width * ratio)), max(1, round(img.height * ratio))))
        img.load()
        return upright(_to_rgb(img), exif_of(img).get(ORIENTATION))


def decode_memory(source: str | os.PathLike | bytes | BinaryIO) -> int:
    """An upper bound of the bytes decoding an image takes at its peak, from its header alone (nothing is
    decoded); raises DecodeError for what the decoder would refuse anyway (not an image, too many pixels).

    The decoded raster twice (Pillow's copy, then a converted or resized one), a working RGB(A) image, and for
    32-bit samples the float copies that stretching them to 8 bits makes: measured peaks were 1.07 GB for a
    120 MP RGB PNG (estimate 1.2 GB) and 1.95 GB for a 120 MP float TIFF (estimate 2.4 GB).
    """
    if isinstance(source, (str, os.PathLike)):
        source = os.fsdecode(source)
    with _opened(source, MAX_PIXELS) as img:
        mode = ImageMode.getmode(img.mode)
        sample = int(mode.typestr[-1])  # bytes per sample: '|u1', '<u2', '<f4'...
        per_pixel = 2 * len(mode.bands) * sample + 4 + (8 if sample == 4 else 0)
        return img.width * img.height * per_pixel


def _decode(source: str | bytes, spec: PreprocessSpec) -> DecodedImage:
    from PIL import JpegImagePlugin  # loaded by _opened (_register_formats)

    with _opened(source, MAX_PIXELS) as img:
        is_jpeg = isinstance(img, JpegImagePlugin.JpegImageFile)
        fast = None if is_jpeg else spng_decode(img)
        if not is_jpeg and fast is None:
            # PNG may keep its EXIF after the pixel data; a JPEG must not load before draft().
            img.load()
        exif = exif_of(img) if fast is None else fast[1]
        orientation = exif.get(ORIENTATION)
        swaps = swaps_axes(orientation)
        width, height = (img.height, img.width) if swaps else (img.width, img.height)
        out_w, out_h = _resized_size(width, height, spec)
        # Resizing before rotating gives the same pixels (to rounding) and rotates a small image.
        stored_size = (out_h, out_w) if swaps else (out_w, out_h)
        extent: tuple[float, float, float, float] = (0, 0, img.width, img.height)
        if is_jpeg:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale, as long as the result stays at least stored_size;
            # the box it returns is the original image's extent in the reduced pixels.
            drafted = img.draft("RGB", stored_size)
            extent = drafted[1] if drafted else extent
        size, box = _resize_window(stored_size, _stored_window((out_w, out_h), spec, orientation), extent)
        pixels = img if fast is None else fast[0]
        # An RGB image is resized as it is: converting would copy all its pixels first.
        rgb = pixels if pixels.mode == "RGB" and not pixels.has_transparency_data else _to_rgb(pixels)
        resized = rgb.resize(size, RESAMPLE[spec.interpolation], box=box, reducing_gap=REDUCING_GAP)
        square = _center_crop_or_pad(upright(resized, orientation), spec.image_size)
        return DecodedImage(
            pixels=np.asarray(square),
            width=width,
            height=height,
            # Phones write multi-picture JPEGs, which Pillow calls MPO; everything downstream wants JPEG.
            format="JPEG" if img.format == "MPO" else str(img.format),
            taken_at=taken_at(exif),
            gps=gps_of(exif),
        )


@contextmanager
def _opened(source: str | bytes | BinaryIO, max_pixels: int) -> Iterator[Image.Image]:
    """Opens source after the file checks, with only the header read and its size checked."""
    _register_formats()
    with _readable(source) as fp, _reasons():
        formats: tuple[str, ...] = _FORMATS
        if fp.read(12)[4:8] == b"ftyp":  # an ISO media file: HEIF, or AVIF
            _register_heif()
            formats += ("HEIF",)
        fp.seek(0)
        with Image.open(fp, formats=formats) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise DecodeError(f"image too large ({width}x{height} pixels, limit {max_pixels / 1e6:g} MP)")
            if width < 1 or height < 1:
                raise DecodeError(f"empty image ({width}x{height} pixels)")
            if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
                raise DecodeError(
                    f"image too elongated ({width}x{height} pixels, limit {MAX_ASPECT_RATIO}:1 between its sides)"
                )
            yield img


@contextmanager
def _readable(source: str | bytes | BinaryIO) -> Iterator[BinaryIO]:
    """Opens a path for reading, or wraps bytes, after checking it is a plausible image file; an open file
    (a regular one, which the caller checked) is read as it is and left open."""
    if isinstance(source, bytes):
        _check_byte_size(len(source))
        yield io.BytesIO(source)
        return
    if not isinstance(source, str):
        _check_byte_size(os.fstat(source.fileno()).st_size)
        yield source
        return
    try:
        mode = os.stat(source).st_mode
        if stat.S_ISDIR(mode):
            raise DecodeError("is a directory")
        # A FIFO or device would block or never end.
        if not stat.S_ISREG(mode):
            raise DecodeError("not a regular file")
        fp = open(source, "rb")  # noqa: SIM115 (closed by the with below, after the checks)
    except FileNotFoundError:
        raise UnreadableError("file not found") from None
    except PermissionError:
        raise UnreadableError("permission denied") from None
    except OSError as e:
        raise UnreadableError(f"cannot read file ({e.strerror or e})") from None
    with fp:
        _check_byte_size(os.fstat(fp.fileno()).st_size)
        yield fp


def _check_byte_size(size: int) -> None:
    if size == 0:
        raise DecodeError("empty file")
    if size > MAX_IMAGE_BYTES:
        raise DecodeError(f"file too large ({size / 2**20:.0f} MB, limit {MAX_IMAGE_BYTES / 2**20:g} MB)")


@contextmanager
def _reasons() -> Iterator[None]:
    """Turns what Pillow raises on bad data into a DecodeError with a short reason."""
    try:
        yield
    except UnidentifiedImageError as e:
        raise DecodeError("not an image file") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow's own limit, met inside Image.open before _opened's size check can report the size (the
        # warning is only raised when warnings are made errors).
        raise DecodeError("image too large (over Pillow's decompression-bomb limit)") from e
    except (MemoryError, OverflowError) as e:
        # Sizes no header check catches; one bad file must not take the process down with it.
        raise DecodeError(f"image too large to decode ({type(e).__name__})") from e
    except _CORRUPT as e:
        if any(word in str(e).lower() for word in ("truncated", "end of file")):
            raise DecodeError("truncated image data") from e
        reason = " ".join(str(e).split()) or type(e).__name__
        raise DecodeError(f"corrupt image data ({reason})") from e


@functools.cache
def _register_formats() -> None:
    """Imports the plugins of _FORMATS, which registers their openers (naming a format Pillow has not loaded
    makes Image.open import all ~40 plugins): at the first image, not at import, so that a process that never
    opens one (a server's cold start, which a text search does not need them for) is spared their 0.02 s of
    CPU (BENCHMARKS.md)."""
    from PIL import (  # noqa: F401
        AvifImagePlugin,
        BmpImagePlugin,
        GifImagePlugin,
        JpegImagePlugin,
        PngImagePlugin,
        TiffImagePlugin,
        WebPImagePlugin,
    )


@functools.cache
def _register_heif() -> None:
    """Teaches Pillow HEIF/HEIC, once, when a file first needs it; a package built without pillow-heif (the
    Lambda zip) cannot read such a file now, and tries it again once it is installed."""
    try:
        import pillow_heif
    except ImportError as error:
        raise UnreadableError("HEIF and AVIF images need pillow-heif, which is not installed") from error

    pillow_heif.register_heif_opener()


def exif_field_count(path: str) -> int:
    """How many EXIF fields a file carries (main and Exif IFDs): a measure of the camera data a copy kept.
    Only the header is read; 0 for a file that cannot be opened or has none."""
    try:
        with _opened(path, MAX_PIXELS) as img:
            return field_count(exif_of(img))
    except (DecodeError, *_CORRUPT):
        return 0


def _to_rgb(img: Image.Image) -> Image.Image:
    """Converts any Pillow mode to a new RGB image as a viewer would show it."""
    if img.mode.startswith("I;16"):
        # Keep the high byte: Pillow's own convert("L") clips 16-bit values at 255, leaving white.
        img = Image.fromarray((np.asarray(img) >> 8).astype(np.uint8))
    elif img.mode in ("I", "F"):
        img = _stretch_to_l(np.asarray(img))
    try:
        if img.has_transparency_data:
            # Transparent areas over white, as viewers show them; RGB alone would reveal whatever colour
            # the encoder left under alpha 0, often black.
            rgba = img.convert("RGBA")
            rgb = Image.new("RGB", img.size, (255, 255, 255))
            rgb.paste(rgba, mask=rgba.getchannel("A"))
            return rgb
        return img.convert("RGB")
    except ValueError as e:  # a mode Pillow cannot convert, such as LAB
        raise DecodeError(f"unsupported colour mode {img.mode}") from e


def _stretch_to_l(values: np.ndarray) -> Image.Image:
    """Maps 32-bit integer or float samples, which have no fixed range, onto 0..255 greyscale."""
    is_float = values.dtype.kind == "f"
    values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if is_float and low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0  # floats in 0..1 are already intensities; do not stretch a dark image
    scale = 255.0 / (high - low) if high > low else 0.0
    return Image.fromarray(np.rint((values - low) * scale).astype(np.uint8))


def _resized_size(width: int, height: int, spec: PreprocessSpec) -> tuple[int, int]:
    """The (w, h) open_clip's eval transform resizes an upright width x height image to."""
    size = spec.image_size
    if spec.resize_mode == "shortest":
        # torchvision Resize(int): the short side becomes size, the long side is truncated, not rounded.
        short, long = sorted((width, height))
        long_out = int(size * long / short)
        return (size, long_out) if width <= height else (long_out, size)
    if spec.resize_mode == "longest":
        # timm's ResizeKeepRatio(longest=1): divide by the larger ratio, round half to even. max(1, ...) keeps
        # a very thin panorama at least a pixel thick, where open_clip would fail resizing to zero.
        ratio = max(width / size, height / size)
        return max(1, round(width / ratio)), max(1, round(height / ratio))
    return size, size


def _stored_window(
    upright_size: tuple[int, int], spec: PreprocessSpec, orientation: object
) -> tuple[int, int, int, int] | None:
    """The part of the resized image the centre crop keeps, in the stored (not yet upright) image's pixels;
    None when the whole resized image is small enough to make."""
    width, height = upright_size
    side = spec.image_size
    if max(width, height) <= FULL_RESIZE_RATIO * side:
        return None
    # The same start as _center_crop_or_pad; an axis shorter than the crop is kept whole and padded later.
    left = round((width - side) / 2) if width > side else 0
    top = round((height - side) / 2) if height > side else 0
    return stored_box((left, top, min(width, left + side), min(height, top + side)), upright_size, orientation)


def _resize_window(
    stored_size: tuple[int, int],
    window: tuple[int, int, int, int] | None,
    extent: tuple[float, float, float, float],
) -> tuple[tuple[int, int], tuple[float, float, float, float]]:
    """The output size and source box for Pillow's resize: the whole image, or only `window` of it."""
    if window is None:
        return stored_size, extent
    x0, y0, x1, y1 = extent
    per_x, per_y = (x1 - x0) / stored_size[0], (y1 - y0) / stored_size[1]  # source pixels per resized pixel
    left, top, right, bottom = window
    return (right - left, bottom - top), (x0 + left * per_x, y0 + top * per_y, x0 + right * per_x, y0 + bottom * per_y)


def _center_crop_or_pad(img: Image.Image, size: int) -> np.ndarray:
    """The centre size x size square, black-padded where the image is smaller, as uint8 (S, S, 3).

    This is torchvision's CenterCrop and open_clip's CenterCropOrPad: pad (size - have) // 2 before, or crop
    from round((have - size) / 2), where round is Python's, half to even.
    """

    def start(have: int) -> int:
        return -((size - have) // 2) if have < size else round((have - size) / 2)

    left, top = start(img.width), start(img.height)
    # Pillow fills the part of a crop box outside the image with zeros, which is the padding.
    return np.asarray(img.crop((left, top, left + size, top + size)))
