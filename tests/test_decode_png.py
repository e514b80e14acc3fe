"""Tests for the faster decode paths: PNGs by libspng, and large downscales reduced before the filter."""

import struct
import zlib

import numpy as np
import pyspng
import pytest
from PIL import Image
from test_decode import exif_with, save, smooth_scene

from viewfinder.images import png
from viewfinder.images.decode import decode_bytes, decode_image
from viewfinder.images.preprocess import PreprocessSpec

SPEC = PreprocessSpec(64)


def spy_on_spng(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the format of each PNG libspng decodes."""
    calls: list[str] = []
    load = pyspng.load

    def recording(data: bytes, format: str | None = None) -> np.ndarray:
        calls.append(str(format))
        return load(data, format=format)

    monkeypatch.setattr(pyspng, "load", recording)
    return calls


def pillow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(png, "_pyspng", lambda: None)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
def test_spng_decodes_8_bit_pngs_to_the_same_pixels_as_pillow(tmp_path, monkeypatch, mode):
    scene = smooth_scene(90, 70)
    if mode in ("RGBA", "LA"):
        scene.putalpha(Image.linear_gradient("L").resize(scene.size))
    path = save(scene.convert(mode), tmp_path / "scene.png", "PNG", exif=exif_with(6))
    calls = spy_on_spng(monkeypatch)
    fast = decode_image(path, SPEC)
    assert calls == [mode]
    with monkeypatch.context() as patched:
        pillow_only(patched)
        slow = decode_image(path, SPEC)
    assert (fast.width, fast.height) == (slow.width, slow.height) == (70, 90)  # EXIF orientation 6 read
    np.testing.assert_array_equal(fast.pixels, slow.pixels)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_exif_after_the_image_data_is_read_by_pillow(tmp_path, monkeypatch):
    # Pillow writes eXIf before the image data; the PNG specification allows it after.
    plain = save(smooth_scene(60, 40), tmp_path / "plain.png", "PNG").read_bytes()
    late = plain[:-12] + chunk(b"eXIf", exif_with(6).tobytes()) + plain[-12:]
    calls = spy_on_spng(monkeypatch)
    result = decode_bytes(late, SPEC)
    assert calls == []
    assert (result.width, result.height) == (40, 60)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("P", (40, 30), 3),  # palette
        Image.new("I;16", (40, 30), 40000),  # 16-bit
        Image.new("RGB", (40, 30), (9, 9, 9)),  # tRNS: one colour transparent
    ],
    ids=["palette", "16-bit", "tRNS"],
)
def test_pngs_libspng_would_show_otherwise_are_left_to_pillow(tmp_path, monkeypatch, image):
    params = {"transparency": (9, 9, 9)} if image.mode == "RGB" else {}
    path = save(image, tmp_path / "other.png", "PNG", **params)
    calls = spy_on_spng(monkeypatch)
    decode_image(path, SPEC)
    assert calls == []


def test_a_png_libspng_rejects_gets_pillows_reason(tmp_path, monkeypatch):
    data = bytearray(save(smooth_scene(60, 40), tmp_path / "bad.png", "PNG").read_bytes())
    start = data.index(b"IDAT") + 4
    data[start + 2 : start + 40] = bytes(38)  # the compressed stream broken, the chunk's length kept
    calls = spy_on_spng(monkeypatch)
    with pytest.raises(Exception) as fast:
        decode_bytes(bytes(data), SPEC)
    pillow_only(monkeypatch)
    with pytest.raises(Exception) as slow:
        decode_bytes(bytes(data), SPEC)
    assert calls == ["RGB"]
    assert (type(fast.value), str(fast.value)) == (type(slow.value), str(slow.value))


def test_a_large_downscale_stays_close_to_the_full_filter(tmp_path):
    # 5x the model size: reduced by boxes first, then filtered.
    scene = smooth_scene(400, 300).resize((1600, 1200), Image.Resampling.BILINEAR)
    path = save(scene, tmp_path / "large.png", "PNG", compress_level=1)
    spec = PreprocessSpec(240)
    full = np.asarray(scene.resize((320, 240), Image.Resampling.BICUBIC).crop((40, 0, 280, 240)), np.int16)
    diff = np.abs(decode_image(path, spec).pixels.astype(np.int16) - full)
    assert diff.any()  # the reduction did happen
    assert diff.mean() < 0.5
