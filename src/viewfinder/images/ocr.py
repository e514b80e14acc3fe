"""Reading the words in a photo (`index --ocr`): PP-OCRv4 text detection and recognition on ONNX Runtime,
from rapidocr-onnxruntime (the [ocr] extra), whose models ship inside its wheel, so nothing is downloaded."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from viewfinder.errors import needs_extra
from viewfinder.images.decode import open_oriented

# Words are found on a small copy (finding them costs with the pixels: at 512 px a photo's words are found in a
# quarter of the time 1280 px takes, and as surely for words of at least ~4% of the photo's height), and read
# from a larger one (reading costs with the words, not the photo, and small letters need the pixels), which
# is decoded only for a photo where words were found.
FIND_SIDE = 512
READ_SIDE = 1280
# Recognitions less sure than this are mostly texture read as letters (foliage, gravel, brick).
MIN_SCORE = 0.6


@dataclass(frozen=True)
class Pictures:
    """A photo ready for OCR: the copy its words are found on, and its file or bytes, to decode the copy
    they are read from when there are words to read."""

    find: np.ndarray
    source: str | bytes


def prepare(source: str | os.PathLike | bytes) -> Pictures:
    """Decodes an image file or its bytes into the copy its words are found on (no model is needed for it);
    raises DecodeError for an image that cannot be decoded."""
    source = source if isinstance(source, bytes) else os.fspath(source)
    image = open_oriented(source, fit=FIND_SIDE)
    image.thumbnail((FIND_SIDE, FIND_SIDE))
    return Pictures(_bgr(image), source)


def require_ocr() -> None:
    """Raises the one-line hint naming the [ocr] extra when it is not installed."""
    with needs_extra("--ocr"):
        import rapidocr_onnxruntime  # noqa: F401


class WordReader:
    """One loaded OCR engine whose models each run on the calling thread: to use more cores, call `read` from
    several threads at once (ONNX Runtime runs a session on several threads at once, and the engine's steps
    keep no state between calls but the detector's pre-processing, which is the same for every picture here).

    A thread per call does the same work in less CPU time than one call on every core, whose threads wait on
    each other and spin between runs, taking the cores from decoding and from other processes: finding the
    words of 60 photos took 7.5 CPU-seconds with ONNX Runtime's default threads, 3.7 without their spinning,
    3.5 on one thread (BENCHMARKS.md).
    """

    def __init__(self) -> None:
        with needs_extra("--ocr"):
            from rapidocr_onnxruntime import RapidOCR
        # A lower bound of 32 px on the shortest side: the detector sees the copy at the size it is given.
        self._engine = RapidOCR(det_limit_side_len=32, det_limit_type="min", intra_op_num_threads=1)

    def read(self, source: str | os.PathLike | bytes | Pictures) -> str:
        """The words in an image file, its bytes or its prepared pictures, in reading order, one space between
        detected lines ("" when it shows none); raises DecodeError for an image that cannot be decoded."""
        pictures = source if isinstance(source, Pictures) else prepare(source)
        boxes, _ = self._engine.text_det(pictures.find)
        if boxes is None or len(boxes) == 0:
            return ""
        image = open_oriented(pictures.source, fit=READ_SIDE)
        image.thumbnail((READ_SIDE, READ_SIDE))
        height, width = pictures.find.shape[:2]
        scale = np.array([image.width / width, image.height / height], dtype=np.float32)
        crops = self._engine.get_crop_img_list(_bgr(image), self._engine.sorted_boxes(boxes) * scale)
        found, _ = self._engine.text_rec(crops)
        return " ".join(" ".join(text.split()) for text, score in found if float(score) >= MIN_SCORE)


def _bgr(image: Image.Image) -> np.ndarray:
    """An RGB picture in the engine's (OpenCV's) channel order."""
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
