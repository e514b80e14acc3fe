"""Tests for the safe decode stage: formats, orientation, colour modes, open_clip parity and bad input."""

import builtins
import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageDraw, ImageOps, JpegImagePlugin, features

from viewfinder.images import decode
from viewfinder.images.decode import (
    DecodedImage,
    DecodeError,
    UnreadableError,
    decode_bytes,
    decode_image,
    open_oriented,
)
from viewfinder.images.preprocess import PreprocessSpec, to_model_input

# Saving HEIF needs the opener in this process; decode registers its own lazily.
pillow_heif.register_heif_opener()

SPEC = PreprocessSpec(image_size=32)
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def red_left_blue_right(width: int, height: int) -> Image.Image:
    """An image whose orientation can be read back: red left half, blue right half."""
    img = Image.new("RGB", (width, height), BLUE)
    img.paste(RED, (0, 0, width // 2, height))
    return img


def smooth_scene(width: int, height: int) -> Image.Image:
    """A photo-like image (gradients and shapes, no pixel noise), so downscaling methods can be compared."""
    x = np.linspace(0, 1, width, dtype=np.float32)[np.newaxis, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, np.newaxis]
    red, green = 255 * x * np.ones_like(y), 255 * y * np.ones_like(x)
    blue = 128 + 100 * np.sin(6 * x + 4 * y)
    img = Image.fromarray(np.stack([red, green, blue], axis=-1).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.2, height * 0.2, width * 0.5, height * 0.6), fill=(250, 250, 40))
    draw.rectangle((width * 0.6, height * 0.5, width * 0.9, height * 0.9), fill=(20, 20, 160))
    return img


def save(img: Image.Image, path: Path, fmt: str, **params: object) -> Path:
    img.save(path, fmt, **params)
    return path


def spy_on_draft(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Records the size of every JPEG after draft(), i.e. the size libjpeg will decode it at."""
    sizes = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def draft(self, mode, size):
        result = original_draft(self, mode, size)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    return sizes


def mean_colour(pixels: np.ndarray) -> np.ndarray:
    return pixels.reshape(-1, 3).mean(axis=0)


def exif_with(orientation: int | None = None, **tags: object) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if "original" in tags:
        exif.get_ifd(0x8769)[0x9003] = tags["original"]
    if "datetime" in tags:
        exif[0x0132] = tags["datetime"]
    return exif


@pytest.fixture(params=["path", "bytes"])
def decoder(request: pytest.FixtureRequest):
    """decode_image, or decode_bytes on the file's contents: both must behave the same."""
    if request.param == "path":
        return decode_image
    return lambda path, spec: decode_bytes(Path(path).read_bytes(), spec)


NEEDS_AVIF = pytest.mark.skipif(not features.check("avif"), reason="Pillow built without libavif")
FORMATS = [
    ("JPEG", {}),
    ("PNG", {}),
    ("WEBP", {"lossless": True}),
    ("GIF", {}),
    ("BMP", {}),
    ("TIFF", {}),
    ("HEIF", {"quality": 95}),
    pytest.param("AVIF", {"quality": 95}, marks=NEEDS_AVIF),
]


@pytest.mark.parametrize(("fmt", "params"), FORMATS)
def test_each_format_decodes_to_model_sized_rgb(tmp_path, decoder, fmt, params):
    # Named .dat: the format is found from the content.
    path = save(red_left_blue_right(64, 48), tmp_path / "image.dat", fmt, **params)
    result = decoder(path, SPEC)
    assert isinstance(result, DecodedImage)
    assert result.pixels.shape == (32, 32, 3)
    assert result.pixels.dtype == np.uint8
    assert (result.width, result.height, result.format) == (64, 48, fmt)
    assert np.abs(mean_colour(result.pixels[:, :8]) - RED).max() < 20
    assert np.abs(mean_colour(result.pixels[:, -8:]) - BLUE).max() < 20


def test_format_is_found_by_content_not_extension(tmp_path):
    path = save(red_left_blue_right(40, 40), tmp_path / "really_a_png.jpg", "PNG")
    assert decode_image(path, SPEC).format == "PNG"


def test_gif_decodes_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 40), colour) for colour in (RED, (0, 255, 0), BLUE)]
    path = tmp_path / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert np.abs(mean_colour(decode_image(path, SPEC).pixels) - RED).max() < 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_exif_transpose(tmp_path, orientation):
    path = save(smooth_scene(60, 40), tmp_path / "o.png", "PNG", exif=exif_with(orientation))
    result = decode_image(path, PreprocessSpec(32, resize_mode="squash"))
    upright = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    assert (result.width, result.height) == upright.size
    expected = np.asarray(upright.resize((32, 32), Image.Resampling.BICUBIC))
    assert np.abs(result.pixels.astype(int) - expected).max() <= 1


@pytest.mark.parametrize(
    ("orientation", "red_at"),
    [(3, "right"), (6, "top"), (8, "bottom")],
)
def test_exif_orientation_turns_a_drafted_jpeg_upright(tmp_path, decoder, orientation, red_at):
    # 800x400 stored, 32-pixel model: decoded at 1/8 scale, so the size must be read before draft().
    path = save(red_left_blue_right(800, 400), tmp_path / "o.jpg", "JPEG", exif=exif_with(orientation))
    result = decoder(path, PreprocessSpec(32, resize_mode="squash"))
    assert (result.width, result.height) == ((800, 400) if orientation == 3 else (400, 800))
    halves = {
        "left": result.pixels[:, :12],
        "right": result.pixels[:, -12:],
        "top": result.pixels[:12],
        "bottom": result.pixels[-12:],
    }
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[red_at]
    assert np.abs(mean_colour(halves[red_at]) - RED).max() < 20
    assert np.abs(mean_colour(halves[opposite]) - BLUE).max() < 20


def test_heif_rotation_is_applied_once(tmp_path, decoder):
    # pillow_heif turns EXIF orientation into HEIF's own rotation when saving, applies that when decoding and
    # reports orientation 1, so decode must not rotate again.
    exif = exif_with(6).tobytes()
    path = save(red_left_blue_right(60, 40), tmp_path / "o.heic", "HEIF", exif=exif, quality=95)
    result = decoder(path, PreprocessSpec(32, resize_mode="squash"))
    assert (result.width, result.height) == (40, 60)
    assert np.abs(mean_colour(result.pixels[:12]) - RED).max() < 20
    assert np.abs(mean_colour(result.pixels[-12:]) - BLUE).max() < 20


def test_multi_picture_jpeg_is_reported_and_drafted_as_jpeg(tmp_path, monkeypatch):
    # Phones write MPO (a JPEG plus a second picture); Pillow names the format MPO.
    path = tmp_path / "phone.jpg"
    red_left_blue_right(800, 600).save(path, "MPO", save_all=True, append_images=[Image.new("RGB", (80, 60))])
    assert Image.open(path).format == "MPO"
    drafted_sizes = spy_on_draft(monkeypatch)
    result = decode_image(path, SPEC)
    assert (result.format, result.width, result.height) == ("JPEG", 800, 600)
    assert drafted_sizes == [(100, 75)]


def test_cmyk_jpeg_converts_to_rgb(tmp_path, decoder):
    # Pillow writes CMYK JPEGs the Adobe way (inverted), so this also covers Adobe files.
    path = save(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", "JPEG")
    assert np.abs(mean_colour(decoder(path, SPEC).pixels) - RED).max() < 8


def test_16_bit_greyscale_png_is_scaled_not_clipped(tmp_path, decoder):
    # 32x32, the model's size, so no resize blurs the ends of the ramp.
    ramp = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (32, 1))
    path = save(Image.fromarray(ramp), tmp_path / "deep.png", "PNG")
    assert Image.open(path).mode == "I;16"
    row = decoder(path, SPEC).pixels[0, :, 0]
    assert (row[0], row[-1]) == (0, 255)
    np.testing.assert_allclose(row, np.linspace(0, 255, 32), atol=1.5)


@pytest.mark.parametrize(
    "values",
    [
        np.linspace(0.0, 1.0, 32, dtype=np.float32),  # 'F' as intensities
        np.linspace(-50.0, 3000.0, 32, dtype=np.float32),  # 'F' without a fixed range
        np.linspace(-5000, 900_000, 32).astype(np.int32),  # 'I'
    ],
)
def test_32_bit_tiffs_are_stretched_to_8_bit(tmp_path, values):
    path = save(Image.fromarray(np.tile(values, (32, 1))), tmp_path / "deep.tif", "TIFF")
    row = decode_image(path, SPEC).pixels[0, :, 0]
    np.testing.assert_allclose(row, np.linspace(0, 255, 32), atol=1.5)


def test_palette_png_transparency_composites_over_white(tmp_path, decoder):
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, *RED])
    img.paste(1, (20, 0, 40, 40))
    path = save(img, tmp_path / "palette.png", "PNG", transparency=0)
    pixels = decoder(path, SPEC).pixels
    assert np.abs(mean_colour(pixels[:, :12]) - WHITE).max() < 2
    assert np.abs(mean_colour(pixels[:, -12:]) - RED).max() < 2


def test_rgba_composites_over_white(tmp_path, decoder):
    img = Image.new("RGBA", (60, 40), (0, 0, 0, 0))
    img.paste((*BLUE, 255), (20, 0, 40, 40))
    img.paste((*RED, 128), (40, 0, 60, 40))
    path = save(img, tmp_path / "alpha.png", "PNG")
    pixels = decoder(path, PreprocessSpec(30, resize_mode="squash")).pixels
    assert np.abs(mean_colour(pixels[:, :8]) - WHITE).max() < 2
    assert np.abs(mean_colour(pixels[:, 12:18]) - BLUE).max() < 2
    assert np.abs(mean_colour(pixels[:, -8:]) - (255, 127, 127)).max() < 3


@pytest.mark.parametrize(("mode", "colour", "expected"), [("L", 77, (77, 77, 77)), ("1", 1, WHITE)])
def test_greyscale_and_bilevel_become_grey_rgb(tmp_path, mode, colour, expected):
    path = save(Image.new(mode, (40, 40), colour), tmp_path / "grey.png", "PNG")
    assert np.abs(mean_colour(decode_image(path, SPEC).pixels) - expected).max() < 1


@pytest.fixture(scope="module")
def open_clip():
    return pytest.importorskip("open_clip")


@pytest.mark.parametrize(
    ("resize_mode", "interpolation"),
    [("shortest", "bicubic"), ("longest", "bicubic"), ("squash", "bicubic"), ("shortest", "bilinear")],
)
@pytest.mark.parametrize(
    "size",
    # Odd sizes; 298x177 makes the centre crop start at 76.5, which open_clip rounds half to even.
    [(301, 177), (298, 177), (177, 298), (100, 60)],
)
def test_model_input_equals_open_clip_eval_transform(tmp_path, open_clip, resize_mode, interpolation, size):
    path = save(smooth_scene(*size), tmp_path / "odd.png", "PNG")
    spec = PreprocessSpec(224, resize_mode=resize_mode, interpolation=interpolation)
    ours = to_model_input(decode_image(path, spec).pixels, spec)
    transform = open_clip.image_transform(
        224,
        is_train=False,
        mean=spec.mean,
        std=spec.std,
        resize_mode=resize_mode,
        interpolation=interpolation,
    )
    theirs = transform(Image.open(path)).numpy()[np.newaxis]
    assert ours.shape == theirs.shape == (1, 3, 224, 224)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_greyscale_model_input_equals_open_clip_eval_transform(tmp_path, open_clip):
    # open_clip resizes before converting to RGB; for greyscale the order makes no difference.
    path = save(smooth_scene(301, 177).convert("L"), tmp_path / "grey.png", "PNG")
    spec = PreprocessSpec(224)
    ours = to_model_input(decode_image(path, spec).pixels, spec)
    theirs = open_clip.image_transform(224, is_train=False)(Image.open(path)).numpy()[np.newaxis]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_large_jpeg_is_decoded_at_reduced_scale_close_to_full_decode(tmp_path, monkeypatch):
    # Upscaled from a small scene: building 12 MP pixel by pixel in numpy would dominate the test's time.
    scene = smooth_scene(400, 300).resize((4000, 3000), Image.Resampling.BILINEAR)
    path = save(scene, tmp_path / "camera.jpg", "JPEG", quality=90)
    drafted_sizes = spy_on_draft(monkeypatch)
    spec = PreprocessSpec(224)
    result = decode_image(path, spec)

    # 1/8 scale still leaves the short side (375) above the 224 the resize needs.
    assert drafted_sizes == [(500, 375)]
    assert (result.width, result.height) == (4000, 3000)
    # Full decode, then open_clip's resize (short side 224, long side int(224 * 4000 / 3000) = 298) and crop.
    full = Image.open(path).convert("RGB").resize((298, 224), Image.Resampling.BICUBIC)
    full = full.crop((37, 0, 261, 224))
    assert np.abs(result.pixels.astype(int) - np.asarray(full)).mean() < 3


def test_small_jpeg_is_not_drafted_below_the_model_size(tmp_path, monkeypatch):
    path = save(smooth_scene(300, 250), tmp_path / "small.jpg", "JPEG")
    drafted_sizes = spy_on_draft(monkeypatch)
    decode_image(path, PreprocessSpec(224))
    assert drafted_sizes == [(300, 250)]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"original": "2021:07:04 18:30:05", "datetime": "2022:01:01 00:00:00"}, "2021-07-04T18:30:05"),
        ({"datetime": "2019:12:31 23:59:59"}, "2019-12-31T23:59:59"),
        ({"original": "0000:00:00 00:00:00", "datetime": "2020:02:29 12:00:00"}, "2020-02-29T12:00:00"),
        ({"original": "0000:00:00 00:00:00"}, None),
        ({"original": "    :  :     :  :  "}, None),
        ({"original": "2021:13:45 25:61:00"}, None),
        ({"original": "yesterday"}, None),
        ({}, None),
    ],
)
def test_capture_time_comes_from_exif_and_ignores_junk(tmp_path, tags, expected):
    path = save(Image.new("RGB", (16, 16)), tmp_path / "dated.jpg", "JPEG", exif=exif_with(**tags))
    assert decode_image(path, SPEC).taken_at == expected


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_malformed_exif_does_not_spoil_a_good_image(tmp_path):
    junk = b"Exif\x00\x00MM\x00*junk"
    path = save(red_left_blue_right(40, 40), tmp_path / "junk_exif.jpg", "JPEG", exif=junk)
    result = decode_image(path, SPEC)
    assert (result.width, result.height, result.taken_at) == (40, 40, None)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG whose header claims width x height; only the header is ever read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    smooth_scene(64, 48).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"just some notes, saved as photo.jpg\n", "not an image file"),
        (jpeg_bytes()[:700], "truncated image data"),
        (png_claiming(12_000, 12_000), "image too large (12000x12000 pixels, limit 120 MP)"),
        (png_claiming(30_000, 30_000), "image too large"),
    ],
    ids=["empty", "text", "truncated-jpeg", "over-limit", "over-pillow-limit"],
)
def test_bad_content_raises_decode_error_with_reason(tmp_path, decoder, data, reason):
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    with pytest.raises(DecodeError) as excinfo:
        decoder(path, SPEC)
    assert str(excinfo.value).startswith(reason)


def test_pixel_limit_is_checked_from_the_header(tmp_path, decoder, monkeypatch):
    monkeypatch.setattr(decode, "MAX_PIXELS", 1000)
    path = save(Image.new("RGB", (40, 30)), tmp_path / "small.png", "PNG")
    with pytest.raises(DecodeError, match=r"^image too large \(40x30 pixels, limit 0\.001 MP\)$"):
        decoder(path, SPEC)


def test_file_over_byte_limit_is_refused(tmp_path, decoder, monkeypatch):
    monkeypatch.setattr(decode, "MAX_IMAGE_BYTES", 100)
    path = save(smooth_scene(64, 48), tmp_path / "big.png", "PNG")
    with pytest.raises(DecodeError, match=r"^file too large"):
        decoder(path, SPEC)


def test_formats_outside_the_photo_set_are_not_opened(tmp_path, decoder):
    path = save(Image.new("RGB", (32, 32), RED), tmp_path / "icon.ico", "ICO")
    with pytest.raises(DecodeError, match=r"^not an image file$"):
        decoder(path, SPEC)


def test_unusable_paths_raise_decode_error_with_reason(tmp_path):
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    cases = {
        tmp_path: "is a directory",
        tmp_path / "missing.jpg": "file not found",
        tmp_path / "dangling.jpg": "file not found",
        tmp_path / "pipe.jpg": "not a regular file",
    }
    for path, reason in cases.items():
        with pytest.raises(DecodeError, match=f"^{reason}$"):
            decode_image(path, SPEC)


def test_unreadable_file_raises_permission_denied(tmp_path, monkeypatch):
    path = save(Image.new("RGB", (16, 16)), tmp_path / "locked.png", "PNG")
    real_open = builtins.open

    # chmod cannot lock out root, which runs these tests in some containers, so deny the open itself.
    def denying_open(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denying_open)
    with pytest.raises(DecodeError, match=r"^permission denied$"):
        decode_image(path, SPEC)


def test_open_oriented_returns_full_size_upright_rgb(tmp_path):
    path = save(red_left_blue_right(80, 60), tmp_path / "o.jpg", "JPEG", exif=exif_with(6))
    for source in (path, path.read_bytes()):
        img = open_oriented(source)
        assert (img.mode, img.size) == ("RGB", (60, 80))
        assert np.abs(mean_colour(np.asarray(img)[:30]) - RED).max() < 20
        assert np.abs(mean_colour(np.asarray(img)[-30:]) - BLUE).max() < 20


def test_open_oriented_with_a_fit_decodes_a_jpeg_at_a_reduced_scale_still_large_enough_and_upright(tmp_path):
    path = save(red_left_blue_right(1600, 1200), tmp_path / "big.jpg", "JPEG", exif=exif_with(6))
    img = open_oriented(path, fit=350)
    assert img.size == (300, 400)  # a quarter of 1200x1600: an eighth would leave the longer side under 350
    assert np.abs(mean_colour(np.asarray(img)[:150]) - RED).max() < 20
    assert open_oriented(save(Image.new("RGB", (90, 60)), tmp_path / "p.png", "PNG"), fit=40).size == (90, 60)


def test_open_oriented_refuses_images_over_its_pixel_limit(tmp_path):
    path = save(Image.new("RGB", (40, 30)), tmp_path / "small.png", "PNG")
    with pytest.raises(DecodeError, match=r"^image too large"):
        open_oriented(path, max_pixels=1000)
    with pytest.raises(DecodeError, match=r"^not an image file$"):
        open_oriented(b"plain text")


def test_to_model_input_takes_one_image_or_a_batch():
    pixels = np.zeros((32, 32, 3), np.uint8)
    assert to_model_input(pixels, SPEC).shape == (1, 3, 32, 32)
    batch = to_model_input(np.stack([pixels, pixels + 255]), SPEC)
    assert batch.shape == (2, 3, 32, 32)
    assert batch.dtype == np.float32
    assert batch.flags.c_contiguous
    expected_white = (1 - np.float32(SPEC.mean[0])) / np.float32(SPEC.std[0])
    assert batch[1, 0, 0, 0] == pytest.approx(expected_white)
    with pytest.raises(ValueError):
        to_model_input(np.zeros((64, 64, 3), np.uint8), SPEC)


def test_spec_rejects_unknown_modes():
    with pytest.raises(ValueError, match="resize_mode"):
        PreprocessSpec(224, resize_mode="stretch")
    with pytest.raises(ValueError, match="interpolation"):
        PreprocessSpec(224, interpolation="lanczos")


def test_importing_decode_loads_neither_torch_nor_pillow_heif():
    # Decode workers are spawned per CPU: their start-up must not pay for torch, nor for HEIF before a HEIF.
    src = Path(decode.__file__).parents[1]
    heavy = "{'torch', 'open_clip', 'pillow_heif'}"
    code = f"import sys, viewfinder.images.decode; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def strip_png(width: int, height: int) -> bytes:
    """A real grey PNG of width x height pixels; a thin strip compresses to a few hundred bytes."""
    image = Image.new("L", (width, height), 128)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1), (1, 100_000_000), (3, 3001)])
def test_extremely_elongated_images_are_refused_from_the_header(tmp_path, decoder, size):
    # Only the header is read: a 1x100000000 strip passes the pixel limit but would take gigabytes to load.
    path = tmp_path / "strip.png"
    path.write_bytes(png_claiming(*size))
    message = rf"^image too elongated \({size[0]}x{size[1]} pixels, limit 1000:1 between its sides\)$"
    with pytest.raises(DecodeError, match=message):
        decoder(path, SPEC)
    with pytest.raises(DecodeError, match=message):
        open_oriented(path)


@pytest.mark.parametrize(("fmt", "size"), [("JPEG", (20_000, 1)), ("WEBP", (16_383, 1)), ("PNG", (1, 20_000))])
def test_real_strips_of_each_format_are_refused_before_decoding(tmp_path, decoder, fmt, size):
    # The review's files: resized whole for a 224-pixel model, each took seconds and 3 to 4 GB.
    path = save(Image.new("RGB", size, RED), tmp_path / "strip", fmt)
    with pytest.raises(DecodeError, match=r"^image too elongated"):
        decoder(path, PreprocessSpec(224))


@pytest.mark.parametrize("size", [(1, 1000), (1000, 1)])
def test_thin_strip_decodes_in_little_memory(tmp_path, size):
    # A 1x1000 strip made 224 wide is 224x224000 pixels if resized whole (about 200 MB); only the crop is
    # needed. Measured in a fresh process, whose peak resident size is not spoiled by earlier tests.
    path = tmp_path / "strip.png"
    path.write_bytes(strip_png(*size))
    script = (
        "import resource, sys\n"
        "from viewfinder.images.decode import decode_image\n"
        "from viewfinder.images.preprocess import PreprocessSpec\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "pixels = decode_image(sys.argv[1], PreprocessSpec(224)).pixels\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(pixels.shape, int(pixels.mean()), (after - before) // 1024)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    shape, mean, grown_mb = done.stdout.rsplit(" ", 2)
    assert (shape.strip(), int(mean)) == ("(224, 224, 3)", 128)
    assert int(grown_mb) < 64, f"decoding a thin strip grew the process by {grown_mb} MB"


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_resizing_only_the_crop_matches_resizing_the_whole_image(tmp_path, monkeypatch, orientation, fmt):
    # 121x50 upright and a 32-pixel crop: the resized long side is 77, so the crop starts at 22.5, rounded to
    # 22, where a mirrored image would start at 23; noise makes a one-pixel shift show.
    noise = np.random.default_rng(orientation).integers(0, 256, (50, 121, 3), dtype=np.uint8)
    upright = Image.fromarray(noise)
    stored = upright if orientation < 5 else upright.transpose(Image.Transpose.TRANSPOSE)
    path = save(stored, tmp_path / f"noise.{fmt.lower()}", fmt, exif=exif_with(orientation), quality=95)
    spec = PreprocessSpec(32)
    whole = decode_image(path, spec).pixels
    monkeypatch.setattr(decode, "FULL_RESIZE_RATIO", 1)
    cropped = decode_image(path, spec).pixels
    assert np.abs(cropped.astype(int) - whole).max() <= 1


@pytest.mark.parametrize("error", [MemoryError, OverflowError])
def test_running_out_of_memory_while_decoding_is_a_decode_error(tmp_path, decoder, monkeypatch, error):
    path = save(smooth_scene(64, 48), tmp_path / "photo.png", "PNG")

    def exhausted(*args, **kwargs):
        raise error()

    monkeypatch.setattr(Image.Image, "resize", exhausted)
    with pytest.raises(DecodeError, match=rf"^image too large to decode \({error.__name__}\)$"):
        decoder(path, SPEC)


def test_a_heif_photo_without_pillow_heif_installed_cannot_be_read_now_and_says_why(tmp_path, monkeypatch):
    path = save(Image.new("RGB", (32, 24), "red"), tmp_path / "photo.heic", "HEIF")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as in a package built without it: import fails
    decode._register_heif.cache_clear()
    with pytest.raises(UnreadableError, match=r"^HEIF and AVIF images need pillow-heif, which is not installed$"):
        decode_image(path, SPEC)
    decode._register_heif.cache_clear()
