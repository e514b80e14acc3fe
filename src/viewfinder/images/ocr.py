"""Reading the words in a photo (`index --ocr`): PP-OCRv4 text detection and recognition on ONNX Runtime,
from rapidocr-onnxruntime (the [ocr] extra), whose models ship inside its wheel, so nothing is downloaded."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from viewfinder.errors import needs_extra
from viewfinder.images.decode import open_oriented

# Words are found on a small copy (finding them costs with the pixels: at 512 px a photo's words are found in a
# quarter of the time 1280 px takes, and as surely for words of at least ~4% of the photo's height), and read
# from a larger one (reading costs with the words, not the photo, and small letters need the pixels).
FIND_SIDE = 512
READ_SIDE = 1280
# Recognitions less sure than this are mostly texture read as letters (foliage, gravel, brick).
MIN_SCORE = 0.6


@dataclass(frozen=True)
class Pictures:
    """A photo ready for OCR: the copy its words are found on, the one they are read from, and the scale
    between the two."""

    find: np.ndarray
    read: np.ndarray
    scale: np.ndarray


def prepare(source: str | os.PathLike | bytes) -> Pictures:
    """Decodes an image file or its bytes into its OCR pictures (no model: run it ahead, on another thread);
    raises DecodeError for an image that cannot be decoded."""
    image = open_oriented(source)
    image.thumbnail((READ_SIDE, READ_SIDE))
    small = image.copy()
    small.thumbnail((FIND_SIDE, FIND_SIDE))
    scale = np.array([image.width / small.width, image.height / small.height], dtype=np.float32)
    return Pictures(_bgr(small), _bgr(image), scale)


class WordReader:
    """One loaded OCR engine; `read` is safe to call from several threads (they take turns: ONNX Runtime
    already runs each model on all the cores)."""

    def __init__(self) -> None:
        with needs_extra("--ocr"):
            from rapidocr_onnxruntime import RapidOCR
        # A lower bound of 32 px on the shortest side: the detector sees the copy at the size it is given.
        self._engine = RapidOCR(det_limit_side_len=32, det_limit_type="min")
        self._turn = threading.Lock()

    def read(self, source: str | os.PathLike | bytes | Pictures) -> str:
        """The words in an image file, its bytes or its prepared pictures, in reading order, one space between
        detected lines ("" when it shows none); raises DecodeError for an image that cannot be decoded."""
        pictures = source if isinstance(source, Pictures) else prepare(source)
        with self._turn:
            boxes, _ = self._engine.text_det(pictures.find)
            if boxes is None or len(boxes) == 0:
                return ""
            crops = self._engine.get_crop_img_list(pictures.read, self._engine.sorted_boxes(boxes) * pictures.scale)
            found, _ = self._engine.text_rec(crops)
        return " ".join(" ".join(text.split()) for text, score in found if float(score) >= MIN_SCORE)


def _bgr(image: Image.Image) -> np.ndarray:
    """An RGB picture in the engine's (OpenCV's) channel order."""
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
